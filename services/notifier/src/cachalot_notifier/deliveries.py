"""The deliveries table: the atomic "already sent?" claim, and the queue the sender drains.

Why the claim holds with any number of replicas:

* :meth:`DeliveryStore.record` inserts the row keyed by the notification's
  unique ``dedupe_key``; a second insert of the key (a redelivery, the same
  event in another replica) fails on the unique constraint and is a no-op.
* :meth:`DeliveryStore.claim` is one conditional ``UPDATE`` (pending, due,
  not claimed by a live lease); a single row can only be won once per lease,
  on SQLite (one writer) and on PostgreSQL (the second ``UPDATE`` waits for
  the first and re-reads the row, whose lease then no longer matches).
* the Telegram message id is written after Telegram's 200, by the owner of
  the lease only.

At least once, still, but never silently twice: a process that dies between
Telegram's 200 and the write of the message id leaves a lease that expires,
and the row is sent again. The Bot API offers nothing that could close that
window: ``sendMessage`` takes no idempotency key, and a bot cannot read a
chat's history to look for its own message (``getUpdates`` carries what
others send to the bot, not what it sent). A lost lead costs more than a
duplicate, so the row is sent again, but marked: :meth:`DeliveryStore.calling`
records when each call begins, and an answer read (any answer) clears it; a
row taken with a call still open had a call whose outcome nobody learnt (a
kill, a read timeout), is marked ``possibly_sent`` for good, and is sent
with a notice saying it may repeat an earlier message (the event id in its
footer tells the two apart; :func:`cachalot_notifier.formatting.repeat_notice`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_common.events import utcnow
from cachalot_common.text import truncate
from cachalot_notifier import leases
from cachalot_notifier.dedupe import NotificationKey
from cachalot_notifier.models import ChatMigration, Delivery


@dataclass(frozen=True)
class Intent:
    """What the Kafka handler records: the message, where it goes, how to park it."""

    key: NotificationKey
    lane: str
    chat_id: str
    text: str
    parse_mode: str | None
    plain_text: str
    event_key: str
    event_json: str
    traceparent: str | None = None


@dataclass(frozen=True)
class Head:
    """The oldest pending row of a lane, as the sender sees it."""

    id: int
    lane: str
    not_before: float
    claimed_until: float | None


@dataclass(frozen=True)
class Claimed:
    """A row this sender owns until its lease ends."""

    id: int
    dedupe_key: str
    source_topic: str
    lane: str
    chat_id: str
    text: str
    parse_mode: str | None
    plain_text: str
    attempts: int
    event_key: str
    event_json: str
    traceparent: str | None = None


_FORGOTTEN: dict[str, Any] = {"text": "", "plain_text": "", "event_json": ""}
_KEEP = object()  # a column _finish leaves as it is


class DeliveryStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, intent: Intent, *, now: float) -> bool:
        """Insert the delivery if its key is new; True when this call recorded it."""
        key = intent.key
        try:
            async with transaction(self._sessions) as session:
                session.add(
                    Delivery(
                        dedupe_key=str(key)[:200],
                        source_topic=key.topic,
                        event_id=key.event_id,
                        channel=key.channel,
                        lane=intent.lane[:300],
                        chat_id=intent.chat_id,
                        text=intent.text,
                        parse_mode=intent.parse_mode,
                        plain_text=intent.plain_text,
                        event_key=intent.event_key[:300],
                        event_json=intent.event_json,
                        state="pending",
                        attempts=0,
                        not_before=now,
                        created_at=utcnow(),
                        traceparent=intent.traceparent,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def state_of(self, key: NotificationKey) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(Delivery.state).where(Delivery.dedupe_key == str(key)[:200])
            )

    async def lane_heads(self) -> list[Head]:
        """The oldest pending row of every lane."""
        oldest = (
            select(func.min(Delivery.id)).where(Delivery.state == "pending").group_by(Delivery.lane)
        )
        async with self._sessions() as session:
            rows = await session.execute(
                select(Delivery.id, Delivery.lane, Delivery.not_before, Delivery.claimed_until)
                .where(Delivery.id.in_(oldest))
                .order_by(Delivery.id)
            )
            return [Head(*row) for row in rows.all()]

    async def claim(self, row_id: int, *, owner: str, now: float, lease_s: float) -> Claimed | None:
        """Take the row for ``lease_s`` seconds if it is pending, due and free; else None."""
        return await leases.claim(
            self._sessions, Delivery, row_id, _claimed, owner=owner, now=now, lease_s=lease_s
        )

    async def calling(self, claimed: Claimed, *, owner: str, now: float) -> bool:
        """A sendMessage call for the row begins at ``now`` (epoch seconds); True when an
        earlier call's outcome was never learnt, so the message may be in the chat already
        (then the row stays ``possibly_sent`` for good). Raises ``LookupError`` when
        ``owner`` no longer holds the row's lease."""
        async with transaction(self._sessions) as session:
            row = await session.get(Delivery, claimed.id, with_for_update=True)
            if row is None or row.claimed_by != owner:
                raise LookupError(f"delivery {claimed.id} is no longer leased by {owner}")
            row.possibly_sent = bool(row.possibly_sent or row.call_started_at is not None)
            row.call_started_at = now
            return row.possibly_sent

    async def mark_sent(
        self, claimed: Claimed, *, owner: str, message_id: int, chat_id: int | str
    ) -> None:
        """Telegram's 200: record its message id, release the lease and forget the words.

        The text and the event (a submitter's name, contact, message, IP) are kept
        only while they may still be sent: the row then keeps ids and times only.
        """
        await self._finish(
            claimed,
            owner,
            **_FORGOTTEN,
            state="sent",
            sent_at=utcnow(),
            telegram_message_id=message_id,
            telegram_chat_id=str(chat_id),
            last_error=None,
        )

    async def reschedule(
        self, claimed: Claimed, *, owner: str, at: float, error: str, answered: bool = True
    ) -> None:
        """Try again no earlier than ``at`` (epoch seconds); the lease is released.

        ``answered=False``: the call got no answer and may have reached Telegram (a read
        timeout, a dropped connection), so it stays open (see :meth:`calling`).
        """
        values: dict[str, Any] = {} if answered else {"call_started_at": _KEEP}
        await self._finish(claimed, owner, not_before=at, last_error=truncate(error, 300), **values)

    async def hold_chat(self, chat_id: str, *, until: float) -> int:
        """Telegram asked ``chat_id`` to wait: its pending rows are not due before ``until``.

        ``until`` is epoch seconds; rows already due later keep their time. Held
        in the table, so another replica and a restart keep the wait too.
        Returns how many rows were held.
        """
        async with transaction(self._sessions) as session:
            result: Any = await session.execute(
                update(Delivery)
                .where(
                    Delivery.chat_id == chat_id,
                    Delivery.state == "pending",
                    Delivery.not_before < until,
                )
                .values(not_before=until)
            )
            return int(result.rowcount or 0)

    async def as_plain_text(self, claimed: Claimed, *, owner: str, now: float) -> None:
        """Telegram refused the formatted text: the row is sent as plain text from now on."""
        await self._finish(claimed, owner, text=claimed.plain_text, parse_mode=None, not_before=now)

    async def mark_undeliverable(self, claimed: Claimed, *, owner: str, error: str) -> None:
        """Parked in the DLQ (which keeps the event): the row forgets the words too."""
        await self._finish(
            claimed, owner, **_FORGOTTEN, state="undeliverable", last_error=truncate(error, 300)
        )

    async def _finish(self, claimed: Claimed, owner: str, **values: Any) -> None:
        """Release the lease with ``values``; the call is over (answered) unless told not."""
        if values.get("call_started_at") is _KEEP:
            del values["call_started_at"]
        else:
            values["call_started_at"] = None
        await leases.release(self._sessions, Delivery, claimed.id, owner=owner, **values)

    async def migrate_chat(self, old: str, new: str) -> None:
        """Remember that ``old`` became ``new``; pending rows for ``old`` go to ``new``."""
        async with transaction(self._sessions) as session:
            existing = await session.get(ChatMigration, old)
            if existing is None:
                session.add(ChatMigration(old_chat_id=old, new_chat_id=new, migrated_at=utcnow()))
            else:
                existing.new_chat_id, existing.migrated_at = new, utcnow()
            await session.execute(
                update(Delivery)
                .where(Delivery.chat_id == old, Delivery.state == "pending")
                .values(chat_id=new)
            )

    async def current_chat(self, chat_id: str) -> str:
        """Where ``chat_id`` lives now, following recorded migrations (a few hops at most)."""
        async with self._sessions() as session:
            seen = {chat_id}
            for _ in range(8):
                new = await session.scalar(
                    select(ChatMigration.new_chat_id).where(ChatMigration.old_chat_id == chat_id)
                )
                if new is None or new in seen:
                    break
                seen.add(new)
                chat_id = new
        return chat_id


def _claimed(row: Delivery) -> Claimed:
    return Claimed(
        id=row.id,
        dedupe_key=row.dedupe_key,
        source_topic=row.source_topic,
        lane=row.lane,
        chat_id=row.chat_id,
        text=row.text,
        parse_mode=row.parse_mode,
        plain_text=row.plain_text,
        attempts=row.attempts,
        event_key=row.event_key,
        event_json=row.event_json,
        traceparent=row.traceparent,
    )
