"""What the fake TikTok remembers: publish tasks, uploaded files, posts, faults.

One process-wide :data:`store`; ``reset()`` clears it between tests. Uploaded
bytes go to files in a private temporary directory (never held in memory);
the SHA-256 of each file is computed as its chunks arrive.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from cachalot_sandbox.tiktok_content.chunks import ChunkPlan

Endpoint = Literal["creator_info", "init", "status", "upload", "publish", "pull"]
PUBLIC_OPTIONS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")


@dataclass
class Config:
    """Knobs tests and the bench turn (``POST /sandbox/tiktok/config``)."""

    rate_limits_enabled: bool = True
    creator_info_per_minute: int = 20
    init_per_minute: int = 6
    status_per_minute: int = 30
    processing_delay_s: float = 0.0
    upload_url_ttl_s: float = 3600.0
    upload_throttle_bps: int | None = None
    verified_url_prefixes: list[str] | None = None  # None: the settings' (CACHALOT_PUBLIC_URL)


@dataclass
class CreatorOptions:
    """What ``creator_info/query`` answers (``POST /sandbox/tiktok/creator``)."""

    privacy_level_options: list[str] = field(default_factory=lambda: list(PUBLIC_OPTIONS))
    max_video_post_duration_sec: int = 600
    comment_disabled: bool = False
    duet_disabled: bool = False
    stitch_disabled: bool = False
    unaudited: bool = False


@dataclass
class Fault:
    """A one-shot (or ``times``-shot) failure armed on one endpoint."""

    endpoint: Endpoint
    kind: str  # http_5xx | rate_limit | token_invalid | spam_risk | drop_connection | fail_publish
    # | chunk_in_progress
    times: int = 1
    detail: str | None = None  # e.g. a fail_reason or a spam_risk code


@dataclass
class PublishTask:
    publish_id: str
    upload_id: str
    upload_token: str
    subject: str
    token: str
    plan: ChunkPlan
    post_info: dict[str, Any]
    path: Path
    created_at: float
    expires_at: float
    uploaded_bytes: int = 0
    hasher: Any = field(default_factory=hashlib.sha256)
    first_put_at: float | None = None
    completed_at: float | None = None
    fail_reason: str | None = None
    post_id: int | None = None
    sha256: str | None = None
    media_type: Literal["VIDEO", "PHOTO"] = "VIDEO"
    post_mode: Literal["DIRECT_POST", "MEDIA_UPLOAD"] = "DIRECT_POST"
    images: list[dict[str, Any]] = field(default_factory=list)  # pulled: sha256, size, type

    def status(self, now: float, processing_delay_s: float) -> str:
        """TikTok's status: a photo is PROCESSING_DOWNLOAD while its images are pulled,
        then PROCESSING_UPLOAD for the processing delay, then PUBLISH_COMPLETE (or
        SEND_TO_USER_INBOX for MEDIA_UPLOAD)."""
        if self.fail_reason is not None:
            return "FAILED"
        if self.completed_at is None and self.media_type == "PHOTO":
            return "PROCESSING_DOWNLOAD"
        if self.completed_at is None or now < self.completed_at + processing_delay_s:
            return "PROCESSING_UPLOAD"
        return "SEND_TO_USER_INBOX" if self.post_mode == "MEDIA_UPLOAD" else "PUBLISH_COMPLETE"


class Store:
    """Thread-safe state of the fake Content Posting API."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.config = Config()
        self.creator = CreatorOptions()
        self.faults: list[Fault] = []
        self.tasks: dict[str, PublishTask] = {}
        self.by_upload: dict[str, PublishTask] = {}
        self.upload_locks: dict[str, threading.Lock] = {}
        self._dir: Path | None = None
        self._ids = itertools.count(7_300_000_000_000_000_001)
        self._limiter_storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._limiter_storage)

    @property
    def directory(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="cachalot-sandbox-tiktok-"))
        return self._dir

    def reset(self) -> None:
        with self.lock:
            self.config = Config()
            self.creator = CreatorOptions()
            self.faults.clear()
            self.tasks.clear()
            self.by_upload.clear()
            self.upload_locks.clear()
            self._limiter_storage.reset()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    # --- rate limits -------------------------------------------------------------------

    def allow(self, endpoint: Endpoint, token: str) -> bool:
        """One request of ``token`` on ``endpoint``; False past the per-minute limit."""
        config = self.config
        if not config.rate_limits_enabled:
            return True
        per_minute = {
            "creator_info": config.creator_info_per_minute,
            "init": config.init_per_minute,
            "status": config.status_per_minute,
        }.get(endpoint)
        if per_minute is None:
            return True
        key = hashlib.sha256(token.encode()).hexdigest()[:24]
        return self._limiter.hit(RateLimitItemPerMinute(per_minute), endpoint, key)

    # --- faults ------------------------------------------------------------------------

    def take_fault(self, endpoint: Endpoint) -> Fault | None:
        """Consume one shot of the first fault armed on ``endpoint``."""
        with self.lock:
            for fault in self.faults:
                if fault.endpoint == endpoint and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    # --- tasks -------------------------------------------------------------------------

    def new_task(
        self, *, subject: str, token: str, plan: ChunkPlan, post_info: dict[str, Any]
    ) -> PublishTask:
        now = time.time()
        upload_id = secrets.token_hex(12)
        task = PublishTask(
            publish_id=f"v_pub_file~v2-1.{secrets.token_hex(12)}",
            upload_id=upload_id,
            upload_token=secrets.token_urlsafe(24),
            subject=subject,
            token=token,
            plan=plan,
            post_info=post_info,
            path=self.directory / f"{upload_id}.bin",
            created_at=now,
            expires_at=now + self.config.upload_url_ttl_s,
        )
        task.path.touch()
        with self.lock:
            self.tasks[task.publish_id] = task
            self.by_upload[upload_id] = task
            self.upload_locks[upload_id] = threading.Lock()
        return task

    def new_photo_task(
        self,
        *,
        subject: str,
        token: str,
        post_info: dict[str, Any],
        post_mode: Literal["DIRECT_POST", "MEDIA_UPLOAD"],
    ) -> PublishTask:
        """A photo post whose images are still to be pulled (no upload URL, no file)."""
        now = time.time()
        task = PublishTask(
            publish_id=f"p_pub_url~v2.{secrets.token_hex(12)}",
            upload_id="",
            upload_token="",
            subject=subject,
            token=token,
            plan=ChunkPlan(0, 0, 0),
            post_info=post_info,
            path=self.directory / "none",
            created_at=now,
            expires_at=now,
            media_type="PHOTO",
            post_mode=post_mode,
        )
        with self.lock:
            self.tasks[task.publish_id] = task
        return task

    def complete_photo(self, task: PublishTask, images: list[dict[str, Any]]) -> None:
        """Every image is pulled: the post's ``sha256`` is that of the images' SHA-256
        hex digests joined by newlines, in order (one value to count posts by)."""
        task.images = images
        task.hasher = hashlib.sha256("\n".join(i["sha256"] for i in images).encode())
        self.complete(task)

    def complete(self, task: PublishTask) -> None:
        """All bytes are in: decide the outcome (a ``fail_publish`` fault may fail it)."""
        task.sha256 = task.hasher.hexdigest()
        task.completed_at = time.time()
        fault = self.take_fault("publish")
        if fault is not None:
            task.fail_reason = fault.detail or "internal"
            return
        if task.post_mode == "DIRECT_POST" and (
            task.post_info.get("privacy_level") == "PUBLIC_TO_EVERYONE"
        ):
            task.post_id = next(self._ids)

    def posts(self) -> list[PublishTask]:
        now = time.time()
        delay = self.config.processing_delay_s
        with self.lock:
            tasks = list(self.tasks.values())
        return [t for t in tasks if t.status(now, delay) == "PUBLISH_COMPLETE"]


store = Store()
