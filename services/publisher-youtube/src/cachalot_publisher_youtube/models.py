"""The one table publisher-youtube owns: upload sessions in flight and finished."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class UploadRow(Base):
    """One target's upload: its session URI before the first byte, its video id at the end.

    The session URI lets a restart or a redelivery resume where YouTube says
    it stands; the video id makes a finished target answer ``published``
    again instead of uploading a second copy.
    """

    __tablename__ = "youtube_uploads"

    target_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    post_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36))
    media_sha256: Mapped[str] = mapped_column(String(64))
    total_bytes: Mapped[int] = mapped_column(BigInteger)
    session_uri: Mapped[str | None] = mapped_column(Text, nullable=True)
    bytes_confirmed: Mapped[int] = mapped_column(BigInteger, default=0)
    sessions_started: Mapped[int] = mapped_column(default=0)
    video_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_chunk_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    """When the chunk that completes the video last went out in the current session (None:
    never): only then can a video exist that the recorded id does not name."""
    unknown_reported_attempt: Mapped[int | None] = mapped_column(nullable=True)
    """The attempt answered ``unknown`` (its video could not be looked up); a later one (the
    client's "publish again") uploads again."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
