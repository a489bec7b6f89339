"""graph.instagram.com content publishing at its real paths, and controls for tests."""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from cachalot_sandbox.instagram_auth.server import STATE as AUTH
from cachalot_sandbox.instagram_auth.server import USERS
from cachalot_sandbox.instagram_graph.state import (
    CONTAINERS_PER_DAY,
    Container,
    Fault,
    FaultKind,
    Fetched,
    Published,
    state,
)
from cachalot_sandbox.oauthkit.errors import OAuthError
from cachalot_sandbox.oauthkit.http import bearer
from cachalot_sandbox.tokens import IssuedToken

PUBLISH_SCOPE = "instagram_business_content_publish"
CAPTION_MAX = 2200
HASHTAGS_MAX = 30
MENTIONS_MAX = 20
CAROUSEL_MIN, CAROUSEL_MAX = 2, 10
FETCH_TIMEOUT_S = 30.0
_VERSION = re.compile(r"^v\d+\.\d+$")
_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9._]+")
_IMAGE_TYPES = {"image/jpeg"}
_VIDEO_TYPES = {"video/mp4", "video/quicktime"}


class GraphError(Exception):
    """A Graph API error: ``{"error": {message, type, code, error_subcode?, fbtrace_id}}``."""

    def __init__(
        self,
        message: str,
        *,
        code: int = 100,
        status: int = 400,
        subcode: int | None = None,
        kind: str = "OAuthException",
        user_msg: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status
        self.subcode, self.kind, self.user_msg = subcode, kind, user_msg

    def response(self) -> JSONResponse:
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.kind,
            "code": self.code,
            "fbtrace_id": secrets.token_urlsafe(12),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
            error["is_transient"] = False
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        return JSONResponse({"error": error}, status_code=self.status)


async def _params(request: Request) -> dict[str, str]:
    """Query and form parameters together (Graph takes either)."""
    params = dict(request.query_params)
    if request.method == "POST":
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.form()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
        elif content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update({k: str(v) for k, v in body.items()})
    return params


def _token(request: Request, params: dict[str, str], *, publish: bool) -> IssuedToken:
    token = params.get("access_token") or bearer(request)
    if not token:
        raise GraphError("An active access token must be used.", code=2500, status=400)
    try:
        issued = AUTH.live_access(token)
    except OAuthError:
        raise GraphError(
            "Error validating access token: Session has expired or is invalid.",
            code=190,
            status=401,
        ) from None
    if publish and PUBLISH_SCOPE not in issued.scopes:
        raise GraphError(
            "(#10) Application does not have permission for this action", code=10, status=403
        )
    return issued


def _owner(issued: IssuedToken, node: str) -> str:
    """The IG user a path's node names: ``me``, the user id or its app-scoped id."""
    user = next((u for u in USERS if u.id == issued.subject), None)
    allowed = {"me", issued.subject, f"91{issued.subject}"}
    if user is not None:
        allowed.add(user.extra["app_scoped_id"])
    if node not in allowed:
        raise GraphError(
            f"Unsupported post request. Object with ID '{node}' does not exist, cannot be "
            "loaded due to missing permissions, or does not support this operation.",
            code=100,
        )
    return issued.subject


def _check_version(version: str | None) -> None:
    if version is not None and not _VERSION.fullmatch(version):
        raise GraphError(f"Unknown path components: /{version}", code=2500)


def _check_caption(caption: str) -> None:
    if len(caption) > CAPTION_MAX:
        raise GraphError(
            f"The caption is longer than {CAPTION_MAX} characters.", code=100, subcode=2207035
        )
    if len(_HASHTAG.findall(caption)) > HASHTAGS_MAX:
        raise GraphError(
            f"The caption has more than {HASHTAGS_MAX} hashtags.", code=100, subcode=2207034
        )
    if len(_MENTION.findall(caption)) > MENTIONS_MAX:
        raise GraphError(
            f"The caption mentions more than {MENTIONS_MAX} accounts.", code=100, subcode=2207036
        )


def _bool(value: str | None) -> bool | None:
    return None if value is None else value.lower() in ("true", "1")


async def _fetch(url: str) -> tuple[bytes, str, int]:
    """GET ``url`` the way Meta's crawler does, by ranges when configured; (bytes, type, GETs)."""
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.netloc:
        raise ValueError("not an http(s) URL")
    chunk = state.range_chunk_bytes
    async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as http:
        if chunk is None:
            answer = await http.get(url)
            answer.raise_for_status()
            if answer.status_code != 200:
                raise ValueError(f"answered {answer.status_code}")
            return answer.content, answer.headers.get("content-type", ""), 1
        data = bytearray()
        requests = 0
        content_type = ""
        while True:
            answer = await http.get(
                url, headers={"Range": f"bytes={len(data)}-{len(data) + chunk - 1}"}
            )
            requests += 1
            if answer.status_code == 200:  # the server ignored the range: the whole file
                return answer.content, answer.headers.get("content-type", ""), requests
            if answer.status_code != 206:
                raise ValueError(f"answered {answer.status_code}")
            content_type = answer.headers.get("content-type", "")
            match = re.fullmatch(
                r"bytes (\d+)-(\d+)/(\d+)", answer.headers.get("content-range", "")
            )
            if match is None or int(match[1]) != len(data):
                raise ValueError("a bad Content-Range")
            data += answer.content
            if len(data) >= int(match[3]):
                return bytes(data), content_type, requests


def _fail(container: Container, message: str, subcode: int | None) -> None:
    container.status_code = "ERROR"
    container.status = f"Error: {message}" + (f" ({subcode})" if subcode else "")


async def _process(container: Container) -> None:
    """Fetch the media, wait the processing delay, then FINISHED (or an injected end)."""
    try:
        fault = state.take_fault("fetch_fail", "error", "expire", "silent")
        if container.source_url is not None:
            if fault is not None and fault.kind == "fetch_fail":
                _fail(
                    container,
                    "Media download has failed. The media URI doesn't meet our requirements.",
                    2207052,
                )
                return
            try:
                data, content_type, requests = await _fetch(container.source_url)
            except (httpx.HTTPError, ValueError):
                _fail(
                    container,
                    "Media download has failed. The media URI doesn't meet our requirements.",
                    2207052,
                )
                return
            content_type = content_type.split(";")[0].strip().lower()
            container.fetched = Fetched(
                url_path=urlsplit(container.source_url).path.rsplit("/", 1)[0] + "/***",
                content_type=content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                requests=requests,
            )
            if container.kind == "IMAGE" and content_type not in _IMAGE_TYPES:
                _fail(
                    container, "The image format is not supported. Only JPEG images are.", 2207005
                )
                return
            if container.kind == "REELS" and content_type not in _VIDEO_TYPES:
                _fail(container, "The video format is not supported. Use MP4 or MOV.", 2207026)
                return
        await asyncio.sleep(state.processing_delay_s)
        if fault is not None and fault.kind == "error":
            _fail(container, fault.message or "Media upload has failed.", fault.subcode or 2207001)
        elif fault is not None and fault.kind == "silent":
            _fail(container, "The video has no audio track and no audio was added.", fault.subcode)
        elif fault is not None and fault.kind == "expire":
            container.status_code, container.status = "EXPIRED", "Expired"
        else:
            container.status_code, container.status = "FINISHED", "Finished"
    except asyncio.CancelledError:
        raise


def create_api_router() -> APIRouter:
    router = APIRouter(prefix="/instagram", tags=["sandbox: instagram graph"])

    async def create_container(request: Request, version: str | None, node: str) -> Response:
        try:
            _check_version(version)
            params = await _params(request)
            issued = _token(request, params, publish=True)
            owner = _owner(issued, node)
            if state.take_fault("unavailable"):
                raise GraphError(
                    "An unexpected error has occurred. Please retry your request later.",
                    code=2,
                    status=500,
                )
            now = time.time()
            if state.containers_today(owner, now) >= CONTAINERS_PER_DAY:
                raise GraphError(
                    "Application request limit reached: 400 containers in 24 hours.", code=4
                )
            media_type = (params.get("media_type") or "").upper()
            caption = params.get("caption", "")
            carousel_item = bool(_bool(params.get("is_carousel_item")))
            children: list[str] = []
            if media_type == "VIDEO":
                raise GraphError(
                    "The parameter media_type=VIDEO is no longer supported; use REELS.", code=100
                )
            if media_type == "REELS":
                if params.get("upload_type") == "resumable":
                    raise GraphError("This sandbox takes video_url only.", code=100)
                if not params.get("video_url"):
                    raise GraphError("The parameter video_url is required", code=100)
                kind, source = "REELS", params["video_url"]
            elif media_type == "CAROUSEL":
                children = [c for c in params.get("children", "").split(",") if c]
                if not CAROUSEL_MIN <= len(children) <= CAROUSEL_MAX:
                    raise GraphError(
                        f"A carousel takes {CAROUSEL_MIN} to {CAROUSEL_MAX} children.", code=100
                    )
                for child in children:
                    item = state.containers.get(child)
                    if item is None or item.owner != owner or not item.is_carousel_item:
                        raise GraphError(f"The child {child} is not a carousel item.", code=100)
                    if state.refresh(item).status_code != "FINISHED":
                        raise GraphError(
                            f"The child {child} is not ready (status {item.status_code}).",
                            code=9007,
                            subcode=2207027,
                        )
                kind, source = "CAROUSEL", None
            elif media_type in ("", "IMAGE"):
                if not params.get("image_url"):
                    raise GraphError("The parameter image_url is required", code=100)
                kind, source = "IMAGE", params["image_url"]
            else:
                raise GraphError(f"Unsupported media_type {media_type}.", code=100)
            if not carousel_item:
                _check_caption(caption)
        except GraphError as error:
            return error.response()
        container = Container(
            id=state.next_id(17_900_000_000_000_000),
            owner=owner,
            kind=kind,  # type: ignore[arg-type]
            caption=caption,
            share_to_feed=_bool(params.get("share_to_feed")),
            is_carousel_item=carousel_item,
            source_url=source,
            children=children,
            created_at=now,
        )
        state.containers[container.id] = container
        container.task = asyncio.create_task(_process(container))
        return JSONResponse({"id": container.id})

    async def publish(request: Request, version: str | None, node: str) -> Response:
        try:
            _check_version(version)
            params = await _params(request)
            issued = _token(request, params, publish=True)
            owner = _owner(issued, node)
            state.publish_calls += 1
            creation_id = params.get("creation_id", "")
            container = state.containers.get(creation_id)
            if container is None or container.owner != owner:
                raise GraphError("Media ID is not available", code=9007, subcode=2207006)
            state.refresh(container)
            if container.is_carousel_item:
                raise GraphError("A carousel item is published through its carousel.", code=100)
            if container.status_code == "EXPIRED":
                raise GraphError(
                    "The media you are trying to access has expired. Please try to upload again.",
                    code=-2,
                    subcode=2207020,
                )
            if container.status_code == "PUBLISHED":
                raise GraphError("The container was already published.", code=9007, subcode=2207006)
            if container.status_code != "FINISHED":
                raise GraphError(
                    "Media ID is not ready for publishing, please wait for a moment",
                    code=9007,
                    subcode=2207027,
                )
            if state.used(owner) >= state.quota_total:
                raise GraphError(
                    "You reached maximum number of posts that is allowed to be published by "
                    "Content Publishing API.",
                    code=9,
                    subcode=2207042,
                )
        except GraphError as error:
            return error.response()
        if container.kind == "CAROUSEL":
            items = [state.containers[c].fetched for c in container.children]
            media_type, product = "CAROUSEL_ALBUM", "FEED"
        elif container.kind == "REELS":
            items, media_type, product = [container.fetched], "VIDEO", "REELS"
        else:
            items, media_type, product = [container.fetched], "IMAGE", "FEED"
        published = Published(
            id=state.next_id(18_000_000_000_000_000),
            owner=owner,
            container_id=container.id,
            media_type=media_type,
            product=product,
            caption=container.caption,
            items=[i for i in items if i is not None],
            timestamp=time.time(),
        )
        state.media[published.id] = published
        state.publishes.append((owner, published.timestamp))
        container.status_code, container.status = "PUBLISHED", "Published"
        container.media_id = published.id
        return JSONResponse({"id": published.id})

    async def publishing_limit(request: Request, version: str | None, node: str) -> Response:
        try:
            _check_version(version)
            params = await _params(request)
            issued = _token(request, params, publish=False)
            owner = _owner(issued, node)
        except GraphError as error:
            return error.response()
        return JSONResponse(
            {
                "data": [
                    {
                        "quota_usage": state.used(owner),
                        "config": {
                            "quota_total": state.quota_total,
                            "quota_duration": state.quota_duration_s,
                        },
                    }
                ]
            }
        )

    async def list_media(request: Request, version: str | None, node: str) -> Response:
        try:
            _check_version(version)
            params = await _params(request)
            issued = _token(request, params, publish=False)
            owner = _owner(issued, node)
        except GraphError as error:
            return error.response()
        limit = int(params.get("limit", "25")) if params.get("limit", "25").isdigit() else 25
        mine = sorted(
            (m for m in state.media.values() if m.owner == owner), key=lambda m: -m.timestamp
        )[:limit]
        return JSONResponse(
            {
                "data": [
                    {
                        "id": m.id,
                        "caption": m.caption,
                        "permalink": m.permalink,
                        "timestamp": time.strftime(
                            "%Y-%m-%dT%H:%M:%S+0000", time.gmtime(m.timestamp)
                        ),
                    }
                    for m in mine
                ]
            }
        )

    async def read_node(request: Request, version: str | None, node: str) -> Response:
        try:
            _check_version(version)
            params = await _params(request)
            issued = _token(request, params, publish=False)
            wanted = [f for f in params.get("fields", "id").split(",") if f]
            container = state.containers.get(node)
            if container is not None and container.owner == issued.subject:
                state.refresh(container)
                values: dict[str, Any] = {
                    "id": container.id,
                    "status_code": container.status_code,
                    "status": container.status,
                }
                return JSONResponse({k: values[k] for k in ["id", *wanted] if k in values})
            media = state.media.get(node)
            if media is not None and media.owner == issued.subject:
                values = {
                    "id": media.id,
                    "permalink": media.permalink,
                    "media_type": media.media_type,
                    "media_product_type": media.product,
                    "caption": media.caption,
                    "timestamp": time.strftime(
                        "%Y-%m-%dT%H:%M:%S+0000", time.gmtime(media.timestamp)
                    ),
                }
                return JSONResponse({k: values[k] for k in ["id", *wanted] if k in values})
            raise GraphError(
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                code=100,
                subcode=33,
            )
        except GraphError as error:
            return error.response()

    # Edges first: "/{version}/{node}" would otherwise take "/me/media" as a node read.
    for prefix in ("", "/{version}"):
        router.add_api_route(
            prefix + "/{node}/media", _bind(create_container), methods=["POST"], response_model=None
        )
        router.add_api_route(
            prefix + "/{node}/media", _bind(list_media), methods=["GET"], response_model=None
        )
        router.add_api_route(
            prefix + "/{node}/media_publish", _bind(publish), methods=["POST"], response_model=None
        )
        router.add_api_route(
            prefix + "/{node}/content_publishing_limit",
            _bind(publishing_limit),
            methods=["GET"],
            response_model=None,
        )
    router.add_api_route(
        "/{version}/{node}", _bind(read_node), methods=["GET"], response_model=None
    )
    router.add_api_route("/{node}", _bind(read_node), methods=["GET"], response_model=None)
    return router


def _bind(handler: Any) -> Any:
    async def route(request: Request) -> Response:
        path = request.path_params
        return await handler(request, path.get("version"), path["node"])  # type: ignore[no-any-return]

    return route


class FaultRequest(BaseModel):
    """Arm a fault for the next ``times`` containers (or container creations)."""

    kind: FaultKind
    times: int = Field(default=1, ge=1)
    subcode: int | None = Field(default=None, description="For error: the status's subcode.")
    message: str | None = Field(default=None, description="For error: the status text.")


class ConfigRequest(BaseModel):
    processing_delay_s: float | None = Field(default=None, ge=0)
    quota_total: int | None = Field(default=None, ge=0)
    quota_duration_s: int | None = Field(default=None, ge=1)
    range_chunk_bytes: int | None = Field(default=None, ge=0, description="0: one plain GET.")


class UseQuotaRequest(BaseModel):
    user_id: str
    count: int = Field(ge=1)


def create_control_router() -> APIRouter:
    router = APIRouter(prefix="/sandbox/instagram/graph", tags=["sandbox: instagram controls"])

    @router.get("/media")
    async def media() -> dict[str, Any]:
        """Every published media with the SHA-256 of each item's bytes, and every container."""
        return {
            "media": [
                {
                    "id": m.id,
                    "owner": m.owner,
                    "container_id": m.container_id,
                    "media_type": m.media_type,
                    "product": m.product,
                    "caption": m.caption,
                    "permalink": m.permalink,
                    "items": [vars(i) for i in m.items],
                }
                for m in state.media.values()
            ],
            "containers": [
                {
                    "id": c.id,
                    "owner": c.owner,
                    "kind": c.kind,
                    "status_code": c.status_code,
                    "is_carousel_item": c.is_carousel_item,
                    "share_to_feed": c.share_to_feed,
                }
                for c in state.containers.values()
            ],
            "publish_calls": state.publish_calls,
        }

    @router.post("/faults")
    async def faults(request: FaultRequest) -> dict[str, str]:
        state.faults.append(Fault(request.kind, request.times, request.subcode, request.message))
        return {"status": "armed"}

    @router.post("/config")
    async def config(request: ConfigRequest) -> dict[str, Any]:
        if request.processing_delay_s is not None:
            state.processing_delay_s = request.processing_delay_s
        if request.quota_total is not None:
            state.quota_total = request.quota_total
        if request.quota_duration_s is not None:
            state.quota_duration_s = request.quota_duration_s
        if request.range_chunk_bytes is not None:
            state.range_chunk_bytes = request.range_chunk_bytes or None
        return {
            "processing_delay_s": state.processing_delay_s,
            "quota_total": state.quota_total,
            "quota_duration_s": state.quota_duration_s,
            "range_chunk_bytes": state.range_chunk_bytes,
        }

    @router.post("/quota/use")
    async def use_quota(request: UseQuotaRequest) -> dict[str, int]:
        """Count ``count`` publishes of ``user_id`` now, as if made elsewhere."""
        now = time.time()
        state.publishes.extend((request.user_id, now) for _ in range(request.count))
        return {"quota_usage": state.used(request.user_id)}

    return router
