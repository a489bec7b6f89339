"""Controls for tests and people under ``/sandbox/youtube``: what landed, faults, quota."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cachalot_sandbox.youtube_upload.state import Fault, FaultKind, FaultTarget, state

_DEFAULT_TARGET: dict[str, FaultTarget] = {
    "drop_mid_chunk": "chunk",
    "server_error": "chunk",
    "rate_limit": "any",
    "quota_exceeded": "insert",
    "upload_limit_exceeded": "insert",
    "unauthorized": "any",
    "expire_session": "chunk",
}


class FaultRequest(BaseModel):
    """Arm a fault for the next ``times`` matching requests, or throttle uploads."""

    kind: FaultKind | Literal["slow"]
    on: FaultTarget | None = Field(
        default=None, description="insert (session start), chunk (PUT) or any; a default per kind."
    )
    times: int = Field(default=1, ge=1)
    status: int = Field(default=503, ge=500, le=599, description="For server_error.")
    retry_after_s: int = Field(default=1, ge=0, description="For rate_limit (Retry-After).")
    accept_bytes: int | None = Field(
        default=None, ge=0, description="For drop_mid_chunk: bytes kept before the drop."
    )
    bytes_per_second: int | None = Field(
        default=None, ge=1, description="For slow: upload throttle; null turns it off."
    )


class QuotaRequest(BaseModel):
    daily_units: int | None = Field(default=None, ge=0)
    used_units: int | None = Field(default=None, ge=0)
    channel_daily_uploads: int | None = Field(default=None, ge=0)
    unaudited: bool | None = Field(
        default=None, description="Act as an unaudited project: every upload becomes private."
    )


def create_control_router() -> APIRouter:
    router = APIRouter(prefix="/sandbox/youtube", tags=["sandbox: youtube controls"])

    @router.get("/videos")
    async def videos() -> dict[str, Any]:
        """Every finished video (with the SHA-256 of its bytes) and every session opened."""
        return {
            "videos": [
                {
                    "id": v.id,
                    "channel_id": v.channel_id,
                    "title": v.snippet.get("title"),
                    "privacy_status": v.status.get("privacyStatus"),
                    "size": v.size,
                    "sha256": v.sha256,
                    "content_type": v.content_type,
                    "chunks": v.chunks,
                    "resource": v.resource(),
                }
                for v in state.videos.values()
            ],
            "sessions_started": state.sessions_started,
            "sessions": [
                {
                    "channel_id": s.channel_id,
                    "title": s.snippet.get("title"),
                    "received": s.received,
                    "total": s.total,
                    "chunks": s.chunks,
                    "video_id": s.video_id,
                    "first_byte_at": s.first_byte_at,
                    "completed_at": s.completed_at,
                }
                for s in state.sessions.values()
            ],
        }

    @router.post("/faults")
    async def arm(request: FaultRequest) -> dict[str, Any]:
        if request.kind == "slow":
            state.throttle_bytes_per_s = request.bytes_per_second
        else:
            state.faults.append(
                Fault(
                    kind=request.kind,
                    on=request.on or _DEFAULT_TARGET[request.kind],
                    times=request.times,
                    status=request.status,
                    retry_after_s=request.retry_after_s,
                    accept_bytes=request.accept_bytes,
                )
            )
        return {"armed": len(state.faults), "throttle_bytes_per_s": state.throttle_bytes_per_s}

    @router.delete("/faults")
    async def clear() -> dict[str, Any]:
        state.faults.clear()
        state.throttle_bytes_per_s = None
        return {"armed": 0}

    @router.get("/quota")
    async def quota() -> dict[str, Any]:
        return {
            **state.quota.snapshot(),
            "channel_daily_uploads": state.channel_daily_uploads,
            "unaudited": state.unaudited,
        }

    @router.post("/quota")
    async def set_quota(request: QuotaRequest) -> dict[str, Any]:
        if request.daily_units is not None:
            state.quota.daily_units = request.daily_units
        if request.used_units is not None:
            state.quota.used = request.used_units
        if request.channel_daily_uploads is not None:
            state.channel_daily_uploads = request.channel_daily_uploads
            state.channel_uploads.clear()
        if request.unaudited is not None:
            state.unaudited = request.unaudited
        return await quota()

    @router.post("/sessions/expire")
    async def expire() -> dict[str, int]:
        """Make every open session URI answer 404, as an expired one does."""
        return {"expired": state.expire_sessions()}

    return router
