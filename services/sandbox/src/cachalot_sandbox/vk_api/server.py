"""The VK API fake's routes, its state and its controls (see the package docstring)."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile

from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tokens import IssuedToken, registry

RATE_PER_SECOND = 3
"""dev.vk.com "request limits": a user token may call at most 3 methods a second."""

SCOPE_OF: dict[str, str | None] = {
    "users.get": None,
    "video.save": "video",
    "photos.getWallUploadServer": "photos",
    "photos.saveWallPhoto": "photos",
    "wall.post": "wall",
    "groups.get": "groups",
}
MESSAGES = {
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    8: "Invalid request: v (version) is required",
    9: "Flood control: too many identical actions",
    10: "Internal server error",
    14: "Captcha needed",
    15: "Access denied: no access to call this method",
    100: "One of the parameters specified was missing or invalid",
    214: "Access to adding post denied: you can only post on your own wall "
    "or a community you administer",
}
_IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a")
_ATTACHMENT = "{kind}{owner}_{id}"
_ATTACHMENT_SYNTAX = re.compile(r"((?:video|photo)-?\d+_\d+)(?:_[0-9a-zA-Z]+)?")
"""``<type><owner_id>_<media_id>[_<access_key>]`` (dev.vk.com wall.post ``attachments``)."""


class VKError(Exception):
    def __init__(self, code: int, message: str | None = None, **extra: Any) -> None:
        super().__init__(code)
        self.code = code
        self.message = message or MESSAGES.get(code, "Unknown error")
        self.extra = extra


@dataclass
class Upload:
    kind: str  # "video" | "photo"
    owner_id: int
    user_id: str
    video_id: int | None = None
    used: bool = False
    started_at: float | None = None  # the upload POST arrived (its body then streams in)
    completed_at: float | None = None  # every byte read and hashed
    size: int = 0


@dataclass
class StoredFile:
    kind: str
    owner_id: int
    media_id: int
    sha256: str
    size: int


@dataclass
class WallPost:
    owner_id: int
    post_id: int
    from_group: bool
    message: str
    attachments: list[str]
    guid: str | None
    files: list[StoredFile]


@dataclass
class Fault:
    method: str
    code: int
    times: int


@dataclass
class VKState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(456239000))
    uploads: dict[str, Upload] = field(default_factory=dict)
    photo_tickets: dict[str, tuple[Upload, str, int]] = field(default_factory=dict)
    files: dict[str, StoredFile] = field(default_factory=dict)  # "video-1_2" → file
    posts: list[WallPost] = field(default_factory=list)
    by_guid: dict[tuple[int, str], WallPost] = field(default_factory=dict)
    communities: dict[int, set[str]] = field(default_factory=dict)  # id → admin user ids
    members: dict[int, set[str]] = field(default_factory=dict)  # id → other member user ids
    names: dict[int, str] = field(default_factory=dict)
    screen_names: dict[int, str] = field(default_factory=dict)
    calls: dict[str, deque[float]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    call_log: list[str] = field(default_factory=list)

    def reset(self) -> None:
        with self.lock:
            self.uploads.clear()
            self.photo_tickets.clear()
            self.files.clear()
            self.posts.clear()
            self.by_guid.clear()
            self.communities.clear()
            self.members.clear()
            self.names.clear()
            self.screen_names.clear()
            self.calls.clear()
            self.faults.clear()
            self.call_log.clear()


STATE = VKState()


class CommunityRequest(BaseModel):
    id: int = Field(gt=0)
    admins: list[str] = Field(description="VK user ids that administer it.")
    members: list[str] = Field(
        default_factory=list, description="VK user ids that only belong to it (no admin)."
    )
    name: str | None = Field(default=None, description="Its name (default: Community <id>).")
    screen_name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.]{1,32}$",
        description="Its short address (default: club<id>, as VK gives a community without one).",
    )


_ADMIN_FILTERS = frozenset({"admin", "editor", "moder"})
PHOTOS = (50, 100, 200)
"""The square photo sizes every group object carries (``photo_50``…): VK's camera picture
for a community without one."""
_GROUP_FILTERS = frozenset({"groups", "publics", "events", "advertiser", "hasAddress"})


def _groups_get(params: dict[str, str], issued: IssuedToken) -> dict[str, Any]:
    """``groups.get`` for the token's user (VK's ``user_id`` of another person is refused).

    ``filter``: a comma list; ``admin``/``editor``/``moder`` keep the communities the user
    administers (the sandbox's managers are all administrators, so the three agree), the
    type filters change nothing (every sandbox community is a group); an unknown value is
    error 100. ``offset``, ``count`` (≤ 1000, VK's default and maximum) page the list, sorted
    by id; ``count`` in the answer is the total. ``extended=1``: community objects with
    ``id``, ``name``, ``screen_name``, ``is_closed``, ``type``, ``photo_50/100/200``,
    ``is_admin``, ``admin_level`` (3: administrator) and ``is_member`` instead of ids.
    """
    user = issued.subject
    asked = _int(params, "user_id", required=False)
    if asked is not None and str(asked) != user:
        raise VKError(30, "This profile is private")
    filters = {f for f in params.get("filter", "").split(",") if f}
    if filters - _ADMIN_FILTERS - _GROUP_FILTERS:
        raise VKError(100, "One of the parameters specified was missing or invalid: filter")
    offset = _int(params, "offset", required=False) or 0
    count = _int(params, "count", required=False)
    count = 1000 if count is None else count
    if offset < 0 or not 0 <= count <= 1000:
        raise VKError(100, "One of the parameters specified was missing or invalid: count")
    with STATE.lock:
        runs = {c for c, admins in STATE.communities.items() if user in admins}
        belongs = runs | {c for c, members in STATE.members.items() if user in members}
        names = dict(STATE.names)
        screen_names = dict(STATE.screen_names)
    chosen = sorted(runs if filters & _ADMIN_FILTERS else belongs)
    page = chosen[offset : offset + count]
    if params.get("extended") != "1":
        return {"count": len(chosen), "items": page}
    return {
        "count": len(chosen),
        "items": [
            {
                "id": c,
                "name": names.get(c, f"Community {c}"),
                "screen_name": screen_names.get(c, f"club{c}"),
                "is_closed": 0,
                "type": "group",
                **{f"photo_{px}": f"https://vk.com/images/community_{px}.png" for px in PHOTOS},
                "is_admin": int(c in runs),
                **({"admin_level": 3} if c in runs else {}),
                "is_member": 1,
            }
            for c in page
        ],
    }


class FaultRequest(BaseModel):
    method: str = Field(description="A method name, or * for any.")
    code: int = Field(description="VK error code to answer (6, 9, 10, 14, 15, 214…).")
    times: int = Field(default=1, ge=1)


def _rate_check(token: str) -> None:
    now = time.monotonic()
    with STATE.lock:
        window = STATE.calls.setdefault(token, deque())
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= RATE_PER_SECOND:
            raise VKError(6)
        window.append(now)


def _take_fault(method: str) -> Fault | None:
    with STATE.lock:
        for fault in STATE.faults:
            if fault.method in (method, "*") and fault.times > 0:
                fault.times -= 1
                return fault
    return None


def _int(params: dict[str, str], name: str, *, required: bool = True) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise VKError(100, f"One of the parameters specified was missing or invalid: {name}")
        return None
    try:
        return int(raw)
    except ValueError:
        raise VKError(
            100, f"One of the parameters specified was missing or invalid: {name} not integer"
        ) from None


def _owner(params: dict[str, str], issued: IssuedToken, name: str = "owner_id") -> int:
    """The owner the call acts on: the user, or -community the user administers (else 214)."""
    owner = _int(params, name, required=False)
    user = int(issued.subject)
    if owner is None or owner == user:
        return user
    if owner < 0 and issued.subject in STATE.communities.get(-owner, set()):
        return owner
    raise VKError(214)


def _group_owner(params: dict[str, str], issued: IssuedToken) -> int:
    group = _int(params, "group_id", required=False)
    if group is None or group == 0:
        return int(issued.subject)
    if issued.subject not in STATE.communities.get(abs(group), set()):
        raise VKError(15, "Access denied: you are not an administrator of this community")
    return -abs(group)


def create_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter(tags=["sandbox: vk api"])
    base = settings.base_url()

    async def read_params(request: Request) -> dict[str, str]:
        params = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        if request.method == "POST" and content_type:
            if content_type.startswith("application/json"):
                raise VKError(8, "Invalid request: JSON bodies are not supported")
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        return params

    @router.api_route("/vk/method/{name}", methods=["GET", "POST"])
    async def method(name: str, request: Request) -> JSONResponse:
        params: dict[str, str] = {}
        try:
            params = await read_params(request)
            if not params.get("v"):
                raise VKError(8)
            bearer = request.headers.get("authorization", "")
            token = params.get("access_token") or bearer.removeprefix("Bearer ").strip()
            issued = registry.lookup("vk", token) if token else None
            if issued is None or not issued.is_valid():
                raise VKError(5)
            _rate_check(token)
            STATE.call_log.append(name)
            fault = _take_fault(name)
            if fault is not None:
                extra = {}
                if fault.code == 14:
                    sid = secrets.token_hex(6)
                    extra = {"captcha_sid": sid, "captcha_img": f"{base}/vk/captcha/{sid}"}
                raise VKError(fault.code, **extra)
            if name not in SCOPE_OF:
                raise VKError(3, f"Unknown method passed: {name}")
            scope = SCOPE_OF[name]
            if scope is not None and scope not in issued.scopes:
                raise VKError(15)
            return JSONResponse({"response": _call(name, params, issued, base)})
        except VKError as error:
            shown = [{"key": "method", "value": name}] + [
                {"key": k, "value": v} for k, v in params.items() if k != "access_token"
            ]
            body = {"error_code": error.code, "error_msg": error.message, "request_params": shown}
            return JSONResponse({"error": body | error.extra})

    @router.post("/vk/upload/{ticket}")
    async def upload(ticket: str, request: Request) -> JSONResponse:
        with STATE.lock:
            pending = STATE.uploads.get(ticket)
            if pending is None or pending.used:
                return JSONResponse({"error": "invalid upload url", "error_code": 1})
            pending.used = True
            pending.started_at = time.time()
        form = await request.form(max_part_size=1024 * 1024)
        part = form.get("video_file" if pending.kind == "video" else "photo")
        if not isinstance(part, UploadFile):
            field_name = "video_file" if pending.kind == "video" else "photo"
            return JSONResponse(
                {"error": f"no file in {field_name}", "error_code": 2, "error_descr": field_name}
            )
        digest, size, head = hashlib.sha256(), 0, b""
        while chunk := await part.read(1024 * 1024):
            if not head:
                head = chunk[:16]
            digest.update(chunk)
            size += len(chunk)
        if size == 0:
            return JSONResponse({"error": "empty file", "error_code": 3})
        pending.completed_at, pending.size = time.time(), size
        if pending.kind == "video":
            assert pending.video_id is not None
            key = _ATTACHMENT.format(kind="video", owner=pending.owner_id, id=pending.video_id)
            stored = StoredFile(
                "video", pending.owner_id, pending.video_id, digest.hexdigest(), size
            )
            with STATE.lock:
                STATE.files[key] = stored
            return JSONResponse(
                {
                    "video_hash": digest.hexdigest()[:18],
                    "size": size,
                    "owner_id": pending.owner_id,
                    "video_id": pending.video_id,
                }
            )
        if not head.startswith(_IMAGE_MAGIC):
            return JSONResponse({"error": "ERR_UPLOAD_BAD_IMAGE_SIZE: not an image", "code": 4})
        photo_hash = secrets.token_hex(16)
        photo = json.dumps([{"photo": digest.hexdigest()[:10], "sizes": [], "kid": photo_hash}])
        with STATE.lock:
            STATE.photo_tickets[photo_hash] = (pending, digest.hexdigest(), size)
        return JSONResponse({"server": 836520, "photo": photo, "hash": photo_hash})

    @router.get("/sandbox/vk/posts")
    async def posts() -> dict[str, Any]:
        """Every wall post with its attachments' bytes (SHA-256), and the method calls made."""
        with STATE.lock:
            return {
                "posts": [
                    {
                        "owner_id": p.owner_id,
                        "post_id": p.post_id,
                        "from_group": p.from_group,
                        "message": p.message,
                        "attachments": p.attachments,
                        "guid": p.guid,
                        "files": [
                            {"kind": f.kind, "sha256": f.sha256, "size": f.size} for f in p.files
                        ],
                    }
                    for p in STATE.posts
                ],
                "calls": list(STATE.call_log),
                # each upload's timing, for benchmarks (bench/upload_memory.py)
                "uploads": [
                    {
                        "kind": u.kind,
                        "user_id": u.user_id,
                        "size": u.size,
                        "started_at": u.started_at,
                        "completed_at": u.completed_at,
                    }
                    for u in STATE.uploads.values()
                    if u.completed_at is not None
                ],
            }

    @router.post("/sandbox/vk/communities")
    async def community(request: CommunityRequest) -> dict[str, Any]:
        with STATE.lock:
            STATE.communities[request.id] = set(request.admins)
            STATE.members[request.id] = set(request.members)
            if request.name is not None:
                STATE.names[request.id] = request.name
            if request.screen_name is not None:
                STATE.screen_names[request.id] = request.screen_name
        return {"id": request.id, "admins": request.admins}

    @router.post("/sandbox/vk/faults")
    async def fault(request: FaultRequest) -> dict[str, Any]:
        with STATE.lock:
            STATE.faults.append(Fault(request.method, request.code, request.times))
        return request.model_dump()

    @router.post("/sandbox/vk/reset")
    async def reset() -> dict[str, bool]:
        STATE.reset()
        return {"reset": True}

    return router


def _call(name: str, params: dict[str, str], issued: IssuedToken, base: str) -> Any:
    if name == "video.save":
        owner = _group_owner(params, issued)
        ticket = secrets.token_urlsafe(16)
        video_id = next(STATE.ids)
        with STATE.lock:
            STATE.uploads[ticket] = Upload("video", owner, issued.subject, video_id=video_id)
        return {
            "upload_url": f"{base}/vk/upload/{ticket}",
            "video_id": video_id,
            "owner_id": owner,
            "title": params.get("name", ""),
            "description": params.get("description", ""),
            "access_key": secrets.token_hex(8),
        }
    if name == "photos.getWallUploadServer":
        owner = _group_owner(params, issued)
        ticket = secrets.token_urlsafe(16)
        with STATE.lock:
            STATE.uploads[ticket] = Upload("photo", owner, issued.subject)
        return {"upload_url": f"{base}/vk/upload/{ticket}", "album_id": -14, "user_id": 0}
    if name == "photos.saveWallPhoto":
        owner = _group_owner(params, issued)
        with STATE.lock:
            found = STATE.photo_tickets.pop(params.get("hash", ""), None)
        if found is None or found[0].owner_id != owner or str(_int(params, "server")) != "836520":
            raise VKError(100, "One of the parameters specified was missing or invalid: hash")
        _, sha256, size = found
        photo_id = next(STATE.ids)
        key = _ATTACHMENT.format(kind="photo", owner=owner, id=photo_id)
        with STATE.lock:
            STATE.files[key] = StoredFile("photo", owner, photo_id, sha256, size)
        return [{"id": photo_id, "owner_id": owner, "album_id": -14, "sizes": []}]
    if name == "wall.post":
        return _wall_post(params, issued)
    if name == "users.get":
        return [{"id": int(issued.subject), "first_name": "Sandbox", "last_name": "User"}]
    if name == "groups.get":
        return _groups_get(params, issued)
    raise VKError(3, f"Unknown method passed: {name}")


def _wall_post(params: dict[str, str], issued: IssuedToken) -> dict[str, int]:
    owner = _owner(params, issued)
    message = params.get("message", "")
    raw = [a for a in params.get("attachments", "").split(",") if a]
    if not message and not raw:
        raise VKError(100, "One of the parameters specified was missing or invalid: message")
    guid = params.get("guid") or None
    with STATE.lock:
        if guid is not None and (owner, guid) in STATE.by_guid:
            return {"post_id": STATE.by_guid[(owner, guid)].post_id}
        files = []
        for attachment in raw:
            parsed = _ATTACHMENT_SYNTAX.fullmatch(attachment)
            stored = STATE.files.get(parsed.group(1)) if parsed else None
            if stored is None:
                raise VKError(100, f"Invalid attachment: {attachment}")
            files.append(stored)
        post = WallPost(
            owner_id=owner,
            post_id=len([p for p in STATE.posts if p.owner_id == owner]) + 1,
            from_group=params.get("from_group") == "1",
            message=message,
            attachments=raw,
            guid=guid,
            files=files,
        )
        STATE.posts.append(post)
        if guid is not None:
            STATE.by_guid[(owner, guid)] = post
    return {"post_id": post.post_id}
