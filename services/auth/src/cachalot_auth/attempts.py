"""Spent publish attempts: a grant leases nothing once its attempt is over.

Issue 8 item 3: a token is leased only for a target that is queued and being
published *now*. The queue's publish grant (:mod:`cachalot_common.grants`)
binds one attempt of one target and lives hours (a long upload), so by itself
it would still lease after that attempt ended: the post published, the client
cancelled it, it failed, was scheduled again or paused. Auth therefore follows
the queue's ``posts.status.v1`` (every target state change, with the target's
attempt) and remembers, per target, the highest attempt that is over:

* an event in ``dispatched`` or ``publishing`` with attempt ``N``: attempts
  below ``N`` are over (a newer dispatch replaced them);
* an event in any other state with attempt ``N``: attempts up to ``N`` are over.

The memory only grows (``max``), so a late or replayed event cannot revive an
attempt. It lives in auth's database (``spent_attempts``), shared by every
replica and kept across restarts, and each row is kept for the grant lifetime
(``CACHALOT_GRANT_LIFETIME_S``, seconds, at least the queue's) plus the JWT
leeway after its last event, then pruned: a grant minted before that event has
expired by then and is refused by its signature check alone.

The lease reads it with one indexed query in the transaction it already
opens (:meth:`AttemptLedger.spent_of`, one query for a whole batch of
confirmations). The window: a grant stays usable
after its attempt ends only until the status event reaches auth, that is the
queue's outbox relay plus Kafka delivery plus this consumer (about a second
when all run; longer while auth's consumer or the broker is down).
Events from a queue older than the ``attempt`` field carry none and are skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from sqlalchemy import Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.models import SpentAttempt, utcnow
from cachalot_common.consuming import subscribe_batch
from cachalot_common.events import PostStatusChanged
from cachalot_common.service_auth import LEEWAY_S
from cachalot_common.topics import POSTS_STATUS

logger = logging.getLogger(__name__)

IN_FLIGHT = frozenset({"dispatched", "publishing"})
CONSUMER_GROUP = "auth.posts-status"


def over_through(event: PostStatusChanged) -> int | None:
    """The highest attempt ``event`` shows to be over (None: it tells nothing)."""
    if event.attempt is None:
        return None
    over = event.attempt - 1 if event.status in IN_FLIGHT else event.attempt
    return over if over >= 1 else None


class AttemptLedger:
    """The ``spent_attempts`` table: written from status events, read by every lease."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        grant_lifetime_s: float,
        prune_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``grant_lifetime_s``: seconds a row is kept after its last event (≥ the queue's
        grant lifetime); ``prune_every_s``: seconds between two prunes of expired rows
        (0: with every batch)."""
        self._factory = factory
        self._keep = timedelta(seconds=grant_lifetime_s + LEEWAY_S)
        self._prune_every_s = prune_every_s
        self._clock = clock
        self._pruned_at: float | None = None

    async def on_status(self, event: PostStatusChanged) -> None:
        """Record what ``event`` ends; idempotent (replays and duplicates change nothing)."""
        await self.on_statuses([event])

    async def on_statuses(self, events: list[PostStatusChanged]) -> None:
        """Record what a batch of events ends, in one transaction and one statement; idempotent.

        Per target only the highest attempt over counts (the memory is a
        ``max``), so the batch is reduced to one row per target, written by one
        ``INSERT … ON CONFLICT DO UPDATE`` that keeps the greater of the stored and
        the new value (a concurrent write of the same target by another replica
        waits for the row and then takes the max too: no read, no retry). Rows go
        in target order, one lock order for every replica.
        """
        over: dict[str, int] = {}
        for event in events:
            through = over_through(event)
            if through is not None:
                key = str(event.target_id)
                over[key] = max(over.get(key, 0), through)
        if over:
            await self._record(over)

    async def _record(self, over: dict[str, int]) -> None:
        """Raise each target's ``over_through`` to ``over[target]`` (target id → attempt)."""
        now = utcnow()
        keep_until = now + self._keep
        rows = [
            {"target_id": target_id, "over_through": over[target_id], "expires_at": keep_until}
            for target_id in sorted(over)
        ]
        async with self._factory() as db, db.begin():
            if self._prune_due():
                await self.prune(db, now)
            await db.execute(self._upsert(db), rows)

    def _prune_due(self) -> bool:
        """Whether this batch prunes: at most once per ``prune_every_s`` (a DELETE with every
        batch was a third of its statements; rows past ``expires_at`` refuse nothing that
        the grant's own expiry does not, so pruning later changes no answer)."""
        ticks = self._clock()
        if self._pruned_at is not None and ticks - self._pruned_at < self._prune_every_s:
            return False
        self._pruned_at = ticks
        return True

    @staticmethod
    def _upsert(db: AsyncSession) -> Any:
        """``INSERT … ON CONFLICT (target_id) DO UPDATE`` keeping the greater values, in
        the dialect of ``db`` (SQLite's two-argument ``max``, PostgreSQL's ``greatest``)."""
        table: Table = SpentAttempt.__table__  # type: ignore[assignment]
        statement: Any
        greatest: Callable[..., Any]
        if db.get_bind().dialect.name == "postgresql":
            statement, greatest = postgresql.insert(table), func.greatest
        else:  # with two arguments, SQLite's scalar max
            statement, greatest = sqlite.insert(table), func.max
        return statement.on_conflict_do_update(
            index_elements=[table.c.target_id],
            set_={
                "over_through": greatest(table.c.over_through, statement.excluded.over_through),
                "expires_at": greatest(table.c.expires_at, statement.excluded.expires_at),
            },
        )

    @staticmethod
    async def prune(db: AsyncSession, now: datetime) -> None:
        """Forget rows past ``expires_at``: every grant they refused has expired."""
        await db.execute(delete(SpentAttempt).where(SpentAttempt.expires_at < now))

    @staticmethod
    async def spent_of(db: AsyncSession, target_ids: Iterable[str]) -> dict[str, int]:
        """Target id → the highest attempt over, for those of ``target_ids`` with one
        (one indexed query in ``db``); an attempt ``N`` of a target is spent when
        ``N <=`` its value."""
        rows = await db.execute(
            select(SpentAttempt.target_id, SpentAttempt.over_through).where(
                SpentAttempt.target_id.in_(list(target_ids))
            )
        )
        return {target_id: over for target_id, over in rows.tuples()}

    def subscribe(self, broker: KafkaBroker, **options: Any) -> None:
        """Follow ``posts.status.v1`` on ``broker`` in auth's own consumer group (each event
        once across replicas; the table is shared), decode-or-DLQ by the shared kit.

        In batches (:func:`~cachalot_common.consuming.subscribe_batch`): one transaction per
        batch instead of one per event (a drain brings two or three events per post;
        one at a time, this consumer cost auth about 4 ms of CPU per published post).
        """
        subscribe_batch(
            broker,
            POSTS_STATUS,
            PostStatusChanged,
            self.on_statuses,
            group_id=CONSUMER_GROUP,
            **options,
        )
