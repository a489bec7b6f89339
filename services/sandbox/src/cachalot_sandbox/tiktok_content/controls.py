"""``/sandbox/tiktok/...``: what tests and people use to steer and inspect the fake.

* ``GET  /sandbox/tiktok/posts``: published videos and photo posts (SHA-256,
  size, post info; a photo post's ``images`` with each pulled image's SHA-256
  and size) and how many times each (by SHA-256) was posted; every publish task;
* ``POST /sandbox/tiktok/faults``: arm failures on an endpoint; ``DELETE`` clears;
* ``POST /sandbox/tiktok/creator``: the creator's options (privacy levels,
  max duration, unaudited client);
* ``POST /sandbox/tiktok/config``: rate limits, processing delay, upload URL
  lifetime, upload throttle, URL prefixes verified for PULL_FROM_URL.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, replace
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from cachalot_sandbox.tiktok_content.state import Fault, store

FaultKind = Literal[
    "http_5xx",
    "rate_limit",
    "token_invalid",
    "spam_risk",
    "drop_connection",
    "fail_publish",
    "chunk_in_progress",  # upload: 416 as while another PUT of the task is still arriving
]


class FaultRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: Literal["creator_info", "init", "status", "upload", "publish", "pull"]
    kind: FaultKind
    times: int = Field(default=1, ge=1, le=1000)
    detail: str | None = Field(
        default=None, description="spam_risk code, or fail_reason for fail_publish."
    )
    # endpoint "pull" (any kind): the next photo pull fails with photo_pull_failed


class CreatorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    privacy_level_options: list[str] | None = None
    max_video_post_duration_sec: int | None = Field(default=None, ge=1)
    comment_disabled: bool | None = None
    duet_disabled: bool | None = None
    stitch_disabled: bool | None = None
    unaudited: bool | None = None


class ConfigRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate_limits_enabled: bool | None = None
    creator_info_per_minute: int | None = Field(default=None, ge=1)
    init_per_minute: int | None = Field(default=None, ge=1)
    status_per_minute: int | None = Field(default=None, ge=1)
    processing_delay_s: float | None = Field(default=None, ge=0)
    upload_url_ttl_s: float | None = Field(default=None, gt=0)
    upload_throttle_bps: int | None = Field(default=None, ge=0, description="0 = no throttle.")
    verified_url_prefixes: list[str] | None = Field(
        default=None, description="PULL_FROM_URL prefixes; null = CACHALOT_PUBLIC_URL's."
    )


def create_controls_router() -> APIRouter:
    router = APIRouter(prefix="/sandbox/tiktok", tags=["sandbox: tiktok"])

    @router.get("/posts")
    async def posts() -> dict[str, Any]:
        published = store.posts()
        now = time.time()
        return {
            "posts": [
                {
                    "publish_id": t.publish_id,
                    "open_id": t.subject,
                    "sha256": t.sha256,
                    "size": t.plan.video_size or sum(i["size"] for i in t.images),
                    "post_info": t.post_info,
                    "post_id": t.post_id,
                    "media_type": t.media_type,
                    "images": t.images,
                }
                for t in published
            ],
            "counts_by_sha256": dict(Counter(t.sha256 for t in published)),
            "publishes": [
                {
                    "publish_id": t.publish_id,
                    "open_id": t.subject,
                    "status": t.status(now, store.config.processing_delay_s),
                    "media_type": t.media_type,
                    "fail_reason": t.fail_reason,
                    "uploaded_bytes": t.uploaded_bytes,
                    "video_size": t.plan.video_size,
                    "chunk_size": t.plan.chunk_size,
                    "total_chunk_count": t.plan.total_chunk_count,
                    "upload_started_at": t.first_put_at,
                    "upload_completed_at": t.completed_at,
                }
                for t in list(store.tasks.values())
            ],
        }

    @router.post("/faults")
    async def arm_fault(request: FaultRequest) -> dict[str, Any]:
        with store.lock:
            store.faults.append(Fault(**request.model_dump()))
            armed = [asdict(f) for f in store.faults]
        return {"faults": armed}

    @router.delete("/faults")
    async def clear_faults() -> dict[str, Any]:
        with store.lock:
            store.faults.clear()
        return {"faults": []}

    @router.post("/creator")
    async def set_creator(request: CreatorRequest) -> dict[str, Any]:
        changes = request.model_dump(exclude_none=True)
        store.creator = replace(store.creator, **changes)
        return asdict(store.creator)

    @router.post("/config")
    async def set_config(request: ConfigRequest) -> dict[str, Any]:
        changes = request.model_dump(exclude_unset=True)
        if changes.get("upload_throttle_bps") == 0:
            changes["upload_throttle_bps"] = None
        store.config = replace(store.config, **{k: v for k, v in changes.items()})
        return asdict(store.config)

    return router
