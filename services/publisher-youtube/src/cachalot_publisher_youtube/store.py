"""Upload records: read and written in short transactions around platform calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_publisher_youtube.models import UploadRow


@dataclass(frozen=True, slots=True)
class UploadRecord:
    target_id: UUID
    media_sha256: str
    total_bytes: int
    session_uri: str | None
    bytes_confirmed: int
    video_id: str | None
    created_at: datetime  # when the target's first session was recorded (UTC)
    last_chunk_sent: bool = False  # the chunk that completes the video went out
    unknown_reported_attempt: int | None = None  # the attempt answered ``unknown``

    def __repr__(self) -> str:  # the session URI is a credential for the upload
        return (
            f"UploadRecord(target_id={self.target_id}, bytes_confirmed={self.bytes_confirmed}, "
            f"video_id={self.video_id}, session={'***' if self.session_uri else None})"
        )


def _record(row: UploadRow) -> UploadRecord:
    return UploadRecord(
        target_id=UUID(row.target_id),
        media_sha256=row.media_sha256,
        total_bytes=row.total_bytes,
        session_uri=row.session_uri,
        bytes_confirmed=row.bytes_confirmed,
        video_id=row.video_id,
        created_at=_utc(row.created_at),
        last_chunk_sent=row.last_chunk_at is not None,
        unknown_reported_attempt=row.unknown_reported_attempt,
    )


def _utc(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class UploadStore:
    """The ``youtube_uploads`` table behind a small, intent-named interface."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, target_id: UUID) -> UploadRecord | None:
        async with self._sessions() as session:
            row = await session.get(UploadRow, str(target_id))
            return _record(row) if row is not None else None

    async def record_session(
        self,
        *,
        target_id: UUID,
        post_id: UUID,
        account_id: UUID,
        media_sha256: str,
        total_bytes: int,
        session_uri: str,
    ) -> None:
        """Remember a fresh session URI before the first byte goes out."""
        async with transaction(self._sessions) as session:
            row = await session.get(UploadRow, str(target_id), with_for_update=True)
            if row is None:
                row = UploadRow(
                    target_id=str(target_id),
                    post_id=str(post_id),
                    account_id=str(account_id),
                    sessions_started=0,
                )
                session.add(row)
            row.media_sha256 = media_sha256
            row.total_bytes = total_bytes
            row.session_uri = session_uri
            row.bytes_confirmed = 0
            row.sessions_started = (row.sessions_started or 0) + 1
            row.last_chunk_at = None  # a new session: no video of it yet

    async def record_last_chunk(self, target_id: UUID) -> None:
        """The chunk that completes the video is going out: from now on a video may exist
        whose id is not recorded (kept when the session expires)."""
        async with transaction(self._sessions) as session:
            row = await session.get(UploadRow, str(target_id))
            if row is not None:
                row.last_chunk_at = datetime.now(UTC)

    async def unknown_reported(self, target_id: UUID, attempt: int) -> None:
        """``attempt`` was answered ``unknown``; only a later attempt uploads again."""
        async with transaction(self._sessions) as session:
            row = await session.get(UploadRow, str(target_id))
            if row is not None:
                row.unknown_reported_attempt = attempt

    async def record_progress(self, target_id: UUID, bytes_confirmed: int) -> None:
        async with transaction(self._sessions) as session:
            row = await session.get(UploadRow, str(target_id))
            if row is not None:
                row.bytes_confirmed = bytes_confirmed

    async def forget_session(self, target_id: UUID) -> None:
        """The session expired (404): the next attempt starts a new one."""
        async with transaction(self._sessions) as session:
            row = await session.get(UploadRow, str(target_id))
            if row is not None and row.video_id is None:
                row.session_uri = None
                row.bytes_confirmed = 0

    async def record_video(self, target_id: UUID, video_id: str, total_bytes: int) -> None:
        async with transaction(self._sessions) as session:
            row = await session.get(UploadRow, str(target_id))
            if row is not None:
                row.video_id = video_id
                row.bytes_confirmed = total_bytes
