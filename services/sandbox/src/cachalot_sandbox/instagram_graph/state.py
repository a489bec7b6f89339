"""The Instagram content-publishing fake's memory: containers, published media, quota, faults."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

StatusCode = Literal["IN_PROGRESS", "FINISHED", "ERROR", "EXPIRED", "PUBLISHED"]
ContainerKind = Literal["REELS", "IMAGE", "CAROUSEL"]
FaultKind = Literal["error", "expire", "fetch_fail", "unavailable", "silent"]

CONTAINER_LIFETIME_S = 24 * 3600.0
CONTAINERS_PER_DAY = 400
WINDOW_S = 86400


@dataclass
class Fetched:
    """What the fake downloaded from one media URL."""

    url_path: str
    content_type: str
    size: int
    sha256: str
    requests: int  # GETs it took (ranges)


@dataclass
class Container:
    id: str
    owner: str
    kind: ContainerKind
    caption: str
    share_to_feed: bool | None
    is_carousel_item: bool
    source_url: str | None
    children: list[str]
    created_at: float
    status_code: StatusCode = "IN_PROGRESS"
    status: str = "In Progress"
    ready_at: float = 0.0
    fetched: Fetched | None = None
    media_id: str | None = None
    task: asyncio.Task[None] | None = None


@dataclass
class Published:
    id: str
    owner: str
    container_id: str
    media_type: str  # VIDEO (a Reel: media_product_type REELS), IMAGE, CAROUSEL_ALBUM
    product: str  # REELS or FEED
    caption: str
    items: list[Fetched]
    timestamp: float

    @property
    def permalink(self) -> str:
        path = "reel" if self.product == "REELS" else "p"
        return f"https://www.instagram.com/{path}/{self.id[-11:]}/"


@dataclass
class Fault:
    kind: FaultKind
    times: int
    subcode: int | None = None
    message: str | None = None


@dataclass
class GraphState:
    processing_delay_s: float = 0.3
    quota_total: int = 50
    quota_duration_s: int = WINDOW_S
    range_chunk_bytes: int | None = 64 * 1024  # fetch by ranges of this size (None: one GET)
    containers: dict[str, Container] = field(default_factory=dict)
    media: dict[str, Published] = field(default_factory=dict)
    publishes: list[tuple[str, float]] = field(default_factory=list)  # (owner, when)
    faults: list[Fault] = field(default_factory=list)
    publish_calls: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_id(self, base: int) -> str:
        return str(base + next(self._ids))

    def take_fault(self, *kinds: FaultKind) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.kind in kinds and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def used(self, owner: str, now: float | None = None) -> int:
        """Publishes of ``owner`` in the rolling window (a carousel counts once)."""
        now = time.time() if now is None else now
        return sum(
            1 for who, at in self.publishes if who == owner and now - at < self.quota_duration_s
        )

    def seconds_until_free(self, owner: str, now: float | None = None) -> float:
        now = time.time() if now is None else now
        times = sorted(
            at for who, at in self.publishes if who == owner and now - at < self.quota_duration_s
        )
        if len(times) < self.quota_total:
            return 0.0
        return times[len(times) - self.quota_total] + self.quota_duration_s - now

    def containers_today(self, owner: str, now: float) -> int:
        return sum(
            1
            for c in self.containers.values()
            if c.owner == owner and now - c.created_at < WINDOW_S
        )

    def refresh(self, container: Container, now: float | None = None) -> Container:
        """Age a container: FINISHED once processed, EXPIRED after 24 h unpublished."""
        now = time.time() if now is None else now
        if container.status_code in ("IN_PROGRESS", "FINISHED") and (
            now - container.created_at >= CONTAINER_LIFETIME_S
        ):
            container.status_code, container.status = "EXPIRED", "Expired"
        return container

    def reset(self) -> None:
        for container in self.containers.values():
            if container.task is not None:
                container.task.cancel()
        self.containers.clear()
        self.media.clear()
        self.publishes.clear()
        self.faults.clear()
        self.publish_calls = 0
        self.processing_delay_s = 0.3
        self.quota_total = 50
        self.quota_duration_s = WINDOW_S
        self.range_chunk_bytes = 64 * 1024


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


state = GraphState()
