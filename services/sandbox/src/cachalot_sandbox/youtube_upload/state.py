"""What the fake YouTube remembers: upload sessions, finished videos, quota, faults.

Bytes go to files in a scratch directory as they arrive (a 1 GiB upload never
sits in memory); the SHA-256 of a finished video is computed from its file so
tests compare exactly what landed.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

INSERT_COST_UNITS = 1600
DEFAULT_DAILY_QUOTA_UNITS = 10_000
DEFAULT_CHANNEL_DAILY_UPLOADS = 100
DEFAULT_SESSION_LIFETIME_S = 7 * 24 * 3600
PACIFIC = ZoneInfo("America/Los_Angeles")

FaultKind = Literal[
    "drop_mid_chunk",
    "server_error",
    "rate_limit",
    "quota_exceeded",
    "upload_limit_exceeded",
    "unauthorized",
    "expire_session",
]
FaultTarget = Literal["insert", "chunk", "any"]


@dataclass
class Fault:
    """One armed fault: fires on the next ``times`` matching requests."""

    kind: FaultKind
    on: FaultTarget
    times: int = 1
    status: int = 503
    retry_after_s: int = 1
    accept_bytes: int | None = None


@dataclass
class UploadSession:
    upload_id: str
    channel_id: str
    snippet: dict[str, Any]
    status: dict[str, Any]
    total: int
    content_type: str
    path: Path
    created_at: float
    received: int = 0
    chunks: int = 0
    video_id: str | None = None
    first_byte_at: float | None = None
    completed_at: float | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Video:
    id: str
    channel_id: str
    snippet: dict[str, Any]
    status: dict[str, Any]
    size: int
    sha256: str
    content_type: str
    published_at: str
    chunks: int

    def resource(self) -> dict[str, Any]:
        """The ``youtube#video`` resource videos.insert answers with."""
        return {
            "kind": "youtube#video",
            "etag": hashlib.sha1(self.id.encode(), usedforsecurity=False).hexdigest(),
            "id": self.id,
            "snippet": {
                "publishedAt": self.published_at,
                "channelId": self.channel_id,
                **self.snippet,
                "liveBroadcastContent": "none",
            },
            "status": {
                "uploadStatus": "uploaded",
                "license": "youtube",
                "embeddable": True,
                "publicStatsViewable": True,
                **self.status,
            },
        }


class Quota:
    """The project's daily units, reset at midnight Pacific like Google's."""

    def __init__(self) -> None:
        self.daily_units = DEFAULT_DAILY_QUOTA_UNITS
        self.used = 0
        self.day = self._today()

    @staticmethod
    def _today() -> str:
        return datetime.now(PACIFIC).date().isoformat()

    def _roll(self) -> None:
        if self._today() != self.day:
            self.day, self.used = self._today(), 0

    def charge(self, units: int) -> bool:
        self._roll()
        if self.used + units > self.daily_units:
            return False
        self.used += units
        return True

    def snapshot(self) -> dict[str, Any]:
        self._roll()
        now = datetime.now(PACIFIC)
        reset = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return {
            "daily_units": self.daily_units,
            "used_units": self.used,
            "insert_cost_units": INSERT_COST_UNITS,
            "resets_at": reset.astimezone(UTC).isoformat(),
        }


class YouTubeState:
    """The whole fake: one instance per sandbox process, cleared by ``reset``."""

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._clear()

    def _clear(self) -> None:
        self.sessions: dict[str, UploadSession] = {}
        self.videos: dict[str, Video] = {}
        self.sessions_started = 0
        self.quota = Quota()
        self.channel_daily_uploads = DEFAULT_CHANNEL_DAILY_UPLOADS
        self.channel_uploads: dict[str, int] = {}
        self.session_lifetime_s = DEFAULT_SESSION_LIFETIME_S
        self.unaudited = False
        self.faults: list[Fault] = []
        self.throttle_bytes_per_s: int | None = None

    @property
    def directory(self) -> Path:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="cachalot-sandbox-youtube-"))
        return self._dir

    def reset(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._clear()

    # --- sessions ---------------------------------------------------------------------

    def open_session(
        self,
        *,
        channel_id: str,
        snippet: dict[str, Any],
        status: dict[str, Any],
        total: int,
        content_type: str,
    ) -> UploadSession:
        upload_id = "AEnB2U" + secrets.token_urlsafe(48)
        path = self.directory / f"{secrets.token_hex(16)}.part"
        path.touch()
        session = UploadSession(
            upload_id=upload_id,
            channel_id=channel_id,
            snippet=snippet,
            status=status,
            total=total,
            content_type=content_type,
            path=path,
            created_at=time.time(),
        )
        self.sessions[upload_id] = session
        self.sessions_started += 1
        return session

    def find_session(self, upload_id: str) -> UploadSession | None:
        session = self.sessions.get(upload_id)
        if session is None or time.time() - session.created_at > self.session_lifetime_s:
            return None
        return session

    def expire_sessions(self) -> int:
        for session in self.sessions.values():
            session.created_at = 0
        return len(self.sessions)

    def finish(self, session: UploadSession) -> Video:
        digest = hashlib.sha256()
        with session.path.open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        video = Video(
            id=secrets.token_urlsafe(8)[:11],
            channel_id=session.channel_id,
            snippet=session.snippet,
            status=session.status,
            size=session.received,
            sha256=digest.hexdigest(),
            content_type=session.content_type,
            published_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            chunks=session.chunks,
        )
        self.videos[video.id] = video
        session.video_id = video.id
        session.completed_at = time.time()
        return video

    # --- faults -----------------------------------------------------------------------

    def take_fault(
        self, target: Literal["insert", "chunk"], *, carries_bytes: bool = True
    ) -> Fault | None:
        """Consume one firing of the first fault armed for this kind of request.

        A status query (a ``PUT`` without bytes) cannot be cut mid-chunk, so
        ``drop_mid_chunk`` waits for the next request that carries bytes.
        """
        for fault in self.faults:
            if fault.kind == "drop_mid_chunk" and not carries_bytes:
                continue
            if fault.on in (target, "any"):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None


state = YouTubeState()
