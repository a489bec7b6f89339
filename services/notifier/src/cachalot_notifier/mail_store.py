"""The ``email_notices`` table: the "already recorded?" claim, and the queue the mailer drains.

Recording inserts the row keyed by its unique ``dedupe_key``; a second
insert of the key (a redelivery, the same event in another replica) fails
on the unique constraint and is a no-op. The mailer takes a row with one
conditional ``UPDATE`` (pending, due, no live lease), which a row can win
only once per lease on SQLite and PostgreSQL, so two replicas never send the
same mail at once.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_common.events import utcnow
from cachalot_common.text import truncate
from cachalot_notifier import leases
from cachalot_notifier.models import EmailNotice


@dataclass(frozen=True)
class Notice:
    """A notice as recorded: what it is, for whom, and the facts it is written from."""

    dedupe_key: str
    kind: str
    client_id: uuid.UUID
    facts: dict[str, Any]


@dataclass(frozen=True)
class ClaimedNotice:
    id: int
    dedupe_key: str
    kind: str
    client_id: uuid.UUID
    facts: dict[str, Any]
    attempts: int


class EmailStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def record(self, notice: Notice, *, now: float) -> bool:
        """Insert the notice if its key is new; True when this call recorded it."""
        try:
            async with transaction(self._sessions) as session:
                session.add(
                    EmailNotice(
                        dedupe_key=notice.dedupe_key[:200],
                        kind=notice.kind,
                        client_id=notice.client_id,
                        facts=json.dumps(notice.facts, ensure_ascii=False),
                        state="pending",
                        attempts=0,
                        not_before=now,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    async def due(self, *, now: float, limit: int = 20) -> list[int]:
        """Ids of pending rows that are due and not leased, oldest first."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(EmailNotice.id)
                .where(leases.takeable(EmailNotice, now))
                .order_by(EmailNotice.id)
                .limit(limit)
            )
            return list(rows.all())

    async def claim(
        self, row_id: int, *, owner: str, now: float, lease_s: float
    ) -> ClaimedNotice | None:
        """Take the row for ``lease_s`` seconds if it is pending, due and free; else None."""
        return await leases.claim(
            self._sessions, EmailNotice, row_id, _claimed, owner=owner, now=now, lease_s=lease_s
        )

    async def finish(
        self,
        row: ClaimedNotice,
        *,
        owner: str,
        state: str,
        error: str | None = None,
        message_id: str | None = None,
    ) -> None:
        """``sent``, ``failed`` (permanent) or ``skipped``: the lease ends, facts are forgotten."""
        await self._update(
            row,
            owner,
            state=state,
            facts="",
            finished_at=utcnow(),
            last_error=truncate(error, 300) if error else None,
            message_id=message_id,
        )

    async def reschedule(self, row: ClaimedNotice, *, owner: str, at: float, error: str) -> None:
        """Try again no earlier than ``at`` (epoch seconds); the lease is released."""
        await self._update(row, owner, not_before=at, last_error=truncate(error, 300))

    async def _update(self, row: ClaimedNotice, owner: str, **values: Any) -> None:
        await leases.release(self._sessions, EmailNotice, row.id, owner=owner, **values)

    async def states(self, client_id: uuid.UUID) -> list[tuple[str, str, int, str | None]]:
        """(kind, state, attempts, last_error) of a client's notices, oldest first (tests, ops)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(
                    EmailNotice.kind,
                    EmailNotice.state,
                    EmailNotice.attempts,
                    EmailNotice.last_error,
                )
                .where(EmailNotice.client_id == client_id)
                .order_by(EmailNotice.id)
            )
            return [tuple(r) for r in rows.all()]  # type: ignore[misc]


def _claimed(row: EmailNotice) -> ClaimedNotice:
    return ClaimedNotice(
        id=row.id,
        dedupe_key=row.dedupe_key,
        kind=row.kind,
        client_id=row.client_id,
        facts=json.loads(row.facts or "{}"),
        attempts=row.attempts,
    )
