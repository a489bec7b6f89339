"""``/v2/post/publish/...``: creator_info, Direct Post init (video; photo in ``photos``), status.

Each call checks, in TikTok's order: bearer token (401
``access_token_invalid``), scope (401 ``scope_not_authorized``), per-token
per-minute limit (429 ``rate_limit_exceeded``), armed faults, then the body.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tiktok_content.chunks import ChunkPlanError, check_plan
from cachalot_sandbox.tiktok_content.envelope import TikTokError, TikTokRoute, ok
from cachalot_sandbox.tiktok_content.photos import (
    check_photo_source,
    check_photo_text,
    start_pull,
    verified_prefixes,
)
from cachalot_sandbox.tiktok_content.state import Endpoint, store
from cachalot_sandbox.tokens import IssuedToken, registry

PUBLISH_SCOPE = "video.publish"
UPLOAD_SCOPE = "video.upload"
PRIVACY_LEVELS = frozenset(
    {"PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"}
)
MAX_TITLE_UTF16 = 2200


def authorize(request: Request, endpoint: Endpoint, scopes: frozenset[str]) -> IssuedToken:
    """The caller's token after the token, scope, rate-limit and fault checks."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    issued = registry.lookup("tiktok", value.strip()) if scheme.lower() == "bearer" else None
    if issued is None or not issued.is_valid():
        raise TikTokError(
            401, "access_token_invalid", "The access token is invalid or not found in the request."
        )
    if not issued.scopes & scopes:
        raise TikTokError(
            401, "scope_not_authorized", f"The user did not authorize the scope {PUBLISH_SCOPE}."
        )
    if not store.allow(endpoint, issued.token):
        raise TikTokError(
            429, "rate_limit_exceeded", "The API rate limit was exceeded. Try again later."
        )
    fault = store.take_fault(endpoint)
    if fault is not None:
        raise _fault_error(fault.kind, fault.detail, endpoint)
    return issued


def _fault_error(kind: str, detail: str | None, endpoint: Endpoint) -> TikTokError:
    if kind == "rate_limit":
        return TikTokError(429, "rate_limit_exceeded", "The API rate limit was exceeded.")
    if kind == "token_invalid":
        return TikTokError(401, "access_token_invalid", "The access token is invalid.")
    if kind == "spam_risk":
        status = 200 if endpoint == "creator_info" else 403
        return TikTokError(status, detail or "spam_risk_too_many_posts", "Posting is restricted.")
    return TikTokError(500, "internal_error", "Something went wrong. Please try again later.")


async def json_body(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/json"):
        raise TikTokError(400, "invalid_params", "Content-Type must be application/json.")
    try:
        body = await request.json()
    except ValueError:
        raise TikTokError(400, "invalid_params", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise TikTokError(400, "invalid_params", "The request body must be a JSON object.")
    return body


def create_api_router(settings: SandboxSettings) -> APIRouter:
    router = APIRouter(
        prefix="/tiktok/v2/post/publish",
        tags=["tiktok: content posting"],
        route_class=TikTokRoute,
    )

    @router.post("/creator_info/query/")
    async def creator_info(request: Request) -> JSONResponse:
        issued = authorize(request, "creator_info", frozenset({PUBLISH_SCOPE}))
        creator = store.creator
        return ok(
            {
                "creator_avatar_url": f"{settings.base_url()}/tiktok/avatar/{issued.subject}.png",
                "creator_username": f"user_{issued.subject[:12]}",
                "creator_nickname": f"Sandbox {issued.subject[:8]}",
                "privacy_level_options": list(creator.privacy_level_options),
                "comment_disabled": creator.comment_disabled,
                "duet_disabled": creator.duet_disabled,
                "stitch_disabled": creator.stitch_disabled,
                "max_video_post_duration_sec": creator.max_video_post_duration_sec,
            }
        )

    @router.post("/video/init/")
    async def video_init(request: Request) -> JSONResponse:
        issued = authorize(request, "init", frozenset({PUBLISH_SCOPE}))
        body = await json_body(request)
        post_info = _check_post_info(body.get("post_info"))
        source = body.get("source_info")
        if not isinstance(source, dict):
            raise TikTokError(400, "invalid_param", "source_info is required.")
        if source.get("source") == "PULL_FROM_URL":
            raise TikTokError(
                403, "url_ownership_unverified", "The video_url is not under a verified domain."
            )
        if source.get("source") != "FILE_UPLOAD":
            raise TikTokError(400, "invalid_param", "source_info.source must be FILE_UPLOAD.")
        sizes = [source.get(k) for k in ("video_size", "chunk_size", "total_chunk_count")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in sizes):
            raise TikTokError(
                400,
                "invalid_param",
                "video_size, chunk_size and total_chunk_count are required integers.",
            )
        try:
            plan = check_plan(*sizes)  # type: ignore[arg-type]
        except ChunkPlanError as error:
            raise TikTokError(400, "invalid_param", str(error)) from None
        task = store.new_task(
            subject=issued.subject, token=issued.token, plan=plan, post_info=post_info
        )
        upload_url = (
            f"{settings.base_url()}/tiktok/upload/video/"
            f"?upload_id={task.upload_id}&upload_token={task.upload_token}"
        )
        return ok({"publish_id": task.publish_id, "upload_url": upload_url})

    @router.post("/content/init/")
    async def content_init(request: Request) -> JSONResponse:
        """A photo post (see :mod:`cachalot_sandbox.tiktok_content.photos`)."""
        issued = authorize(request, "init", frozenset({PUBLISH_SCOPE, UPLOAD_SCOPE}))
        body = await json_body(request)
        if body.get("media_type") != "PHOTO":
            raise TikTokError(400, "invalid_param", "media_type must be PHOTO.")
        mode = body.get("post_mode")
        if mode not in ("DIRECT_POST", "MEDIA_UPLOAD"):
            raise TikTokError(
                400, "invalid_param", "post_mode must be DIRECT_POST or MEDIA_UPLOAD."
            )
        needed = PUBLISH_SCOPE if mode == "DIRECT_POST" else UPLOAD_SCOPE
        if needed not in issued.scopes:
            raise TikTokError(
                401, "scope_not_authorized", f"The user did not authorize the scope {needed}."
            )
        raw_info = body.get("post_info")
        if mode == "DIRECT_POST":
            post_info = _check_post_info(raw_info)
        else:
            post_info = dict(raw_info) if isinstance(raw_info, dict) else {}
        check_photo_text(post_info)
        urls, _ = check_photo_source(body.get("source_info"), verified_prefixes(settings))
        task = store.new_photo_task(
            subject=issued.subject, token=issued.token, post_info=post_info, post_mode=mode
        )
        start_pull(task, urls)
        return ok({"publish_id": task.publish_id})

    @router.post("/status/fetch/")
    async def status_fetch(request: Request) -> JSONResponse:
        issued = authorize(request, "status", frozenset({PUBLISH_SCOPE, "video.upload"}))
        body = await json_body(request)
        publish_id = body.get("publish_id")
        task = store.tasks.get(publish_id) if isinstance(publish_id, str) else None
        if task is None:
            raise TikTokError(400, "invalid_publish_id", "The publish_id does not exist.")
        if task.subject != issued.subject:
            raise TikTokError(
                400,
                "token_not_authorized_for_specified_publish_id",
                "The token's user did not create this publish_id.",
            )
        status = task.status(time.time(), store.config.processing_delay_s)
        data: dict[str, Any] = {
            "status": status,
            "uploaded_bytes": task.uploaded_bytes,
            "publicaly_available_post_id": (
                [task.post_id] if status == "PUBLISH_COMPLETE" and task.post_id else []
            ),
        }
        if status == "FAILED":
            data["fail_reason"] = task.fail_reason
        return ok(data)

    return router


def _check_post_info(raw: object) -> dict[str, Any]:
    """post_info checks: privacy level offered to this creator, unaudited mode, title length."""
    if not isinstance(raw, dict):
        raise TikTokError(400, "invalid_param", "post_info is required.")
    level = raw.get("privacy_level")
    if level not in PRIVACY_LEVELS:
        raise TikTokError(400, "invalid_param", "post_info.privacy_level is missing or unknown.")
    creator = store.creator
    if creator.unaudited and level != "SELF_ONLY":
        raise TikTokError(
            403,
            "unaudited_client_can_only_post_to_private_accounts",
            "Unaudited clients can only post with privacy_level SELF_ONLY.",
        )
    if level not in creator.privacy_level_options:
        raise TikTokError(
            403,
            "privacy_level_option_mismatch",
            "privacy_level is not one of the creator's privacy_level_options.",
        )
    title = raw.get("title", "")
    if not isinstance(title, str) or len(title.encode("utf-16-le")) // 2 > MAX_TITLE_UTF16:
        raise TikTokError(400, "invalid_param", "post_info.title exceeds 2200 UTF-16 units.")
    return dict(raw)
