"""The one table this service owns: upload sessions in flight.

A row is written the moment TikTok hands out a ``publish_id``, before the
first byte is sent, so a redelivered command (after a crash, a rebalance or
the queue's reconciler) finds it and checks TikTok's status instead of
starting a second post.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class UploadSession(Base):
    """One Direct Post at TikTok for one target and attempt."""

    __tablename__ = "tiktok_upload_sessions"

    publish_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    target_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    post_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    upload_url: Mapped[str] = mapped_column(Text)
    upload_expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    video_size: Mapped[int] = mapped_column(BigInteger)
    chunk_size: Mapped[int] = mapped_column(BigInteger)
    total_chunk_count: Mapped[int] = mapped_column(Integer)
    creator_username: Mapped[str | None] = mapped_column(String(128))
    # uploading → published | failed; abandoned = can never complete ("uploaded": older rows)
    state: Mapped[str] = mapped_column(String(16), default="uploading")
    remote_id: Mapped[str | None] = mapped_column(String(64))
    remote_url: Mapped[str | None] = mapped_column(Text)
    fail_code: Mapped[str | None] = mapped_column(String(64))
    fail_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
