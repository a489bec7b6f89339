"""The notifier's one table: notifications already sent (the dedupe record)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, DateTime, String, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class SentNotification(Base):
    """One row per notification Telegram accepted; the key makes a redelivery a no-op."""

    __tablename__ = "sent_notifications"

    dedupe_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    source_topic: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[UUID] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(40))
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
