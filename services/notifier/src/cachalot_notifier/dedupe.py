"""Which notifications were already sent, so a redelivered event sends nothing new.

The record is written only *after* Telegram answered 200: at-least-once.
Writing it before sending would be at-most-once: a crash between the write
and the send would lose the operator's message for good, and a lost lead
costs more than a duplicate. The price is a small window (Telegram's 200
arrived, the process died before this commit) in which a redelivery sends
a second copy; the Bot API has no idempotency key that could close it.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_common.events import utcnow
from cachalot_notifier.models import SentNotification


@dataclass(frozen=True)
class NotificationKey:
    """What makes a notification unique: the event, and the channel it went to."""

    topic: str
    event_id: UUID
    channel: str

    def __str__(self) -> str:
        return f"{self.topic}:{self.event_id}:{self.channel}"


class DedupeStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def was_sent(self, key: NotificationKey) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(SentNotification.dedupe_key).where(SentNotification.dedupe_key == str(key))
            )
        return found is not None

    async def mark_sent(self, key: NotificationKey, *, telegram_message_id: int | None) -> None:
        """Record a sent notification; a second record of the same key is a no-op."""
        try:
            async with transaction(self._sessions) as session:
                session.add(
                    SentNotification(
                        dedupe_key=str(key),
                        source_topic=key.topic,
                        event_id=key.event_id,
                        channel=key.channel,
                        sent_at=utcnow(),
                        telegram_message_id=telegram_message_id,
                    )
                )
        except IntegrityError:
            return
