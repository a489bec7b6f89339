"""The one outbox relay: events written with their change, published after commit.

A service writes an event as a row of its own ``outbox`` table in the
transaction of the change it describes (DESIGN.md, "Delivery guarantees");
:class:`OutboxRelay` publishes unsent rows in id order and marks them sent
only after the broker acknowledged them. A crash between publish and mark
publishes again (consumers dedupe on ``event_id``); a broker that is down,
or came back empty, just means the rows wait and go out when it answers.

A service's table meets :class:`OutboxTable`: ``id`` (ascending), ``topic``,
``key``, ``payload`` (the event's JSON), ``sent_at``, and optionally
``trace`` (a W3C trace-context carrier, restored around the publish so the
trace goes on). On PostgreSQL several relays share the table by claiming
rows with ``FOR UPDATE SKIP LOCKED`` (``claim_with_lock``); on SQLite one
process is the only writer and reading is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from faststream.kafka import KafkaBroker
from opentelemetry import context as otel_context
from opentelemetry import propagate
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from cachalot_common.events import utcnow
from cachalot_common.wakeup import Wakeup

logger = logging.getLogger(__name__)

Publish = Callable[[str, str, bytes], Awaitable[Any]]
"""``publish(topic, key, payload)``: send one event and wait for the broker's ack."""


class OutboxTable(Protocol):
    """The columns every service's outbox table has (an ORM class, mapped)."""

    __tablename__: ClassVar[str]
    id: InstrumentedAttribute[int]
    topic: InstrumentedAttribute[str]
    key: InstrumentedAttribute[str]
    payload: InstrumentedAttribute[str]
    sent_at: InstrumentedAttribute[datetime | None]


def kafka_publish(broker: KafkaBroker) -> Publish:
    """A :data:`Publish` over a FastStream broker (JSON content type, key as bytes)."""

    async def publish(topic: str, key: str, payload: bytes) -> Any:
        return await broker.publish(
            payload, topic=topic, key=key.encode(), headers={"content-type": "application/json"}
        )

    return publish


class OutboxRelay:
    """Publishes a service's outbox, in id order; :meth:`nudge` after a commit sends at once.

    ``table``: the service's mapped outbox class (:class:`OutboxTable`).
    ``reader``: sessions for the unlocked read (SQLite: a pool of its own).
    ``idle_s``: how long to wait for a nudge when nothing is left.
    ``keep_sent``: sent rows older than this are deleted (every minute);
    ``None`` keeps them.
    """

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        table: type[Any],
        publish: Publish,
        *,
        reader: async_sessionmaker[AsyncSession] | None = None,
        wake: Wakeup | None = None,
        claim_with_lock: bool = False,
        batch: int = 500,
        idle_s: float = 0.2,
        publish_timeout_s: float = 30.0,
        keep_sent: timedelta | None = None,
    ) -> None:
        self._factory = factory
        self._reader = reader or factory
        self._table = table
        self._publish_one = publish
        self._wake = wake or Wakeup()
        self._lock = claim_with_lock
        self._batch = batch
        self._idle_s = idle_s
        self._timeout = publish_timeout_s
        self._keep_sent = keep_sent
        self._draining = asyncio.Lock()

    def nudge(self) -> None:
        """Something was committed: publish now, not at the next round."""
        self._wake.set()

    async def drain(self) -> int:
        """Publish everything unsent now; how many rows were published."""
        total = 0
        while sent := await self.relay_once():
            total += sent
        return total

    async def run(self) -> None:
        """Relay until cancelled; a failing broker is retried with a growing pause.

        One warning when publishing starts failing and one when it works
        again, not one per round.
        """
        failures = 0
        purged_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                sent = await self.relay_once()
                if failures:
                    logger.warning("outbox relay: publishing again after %d failures", failures)
                failures = 0
                if self._keep_sent is not None and loop.time() - purged_at > 60:
                    purged_at = loop.time()
                    await self.purge_sent()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                if failures == 1:
                    logger.warning(
                        "outbox relay: publish failed (%s); rows wait and are retried",
                        type(error).__name__,
                    )
                await asyncio.sleep(min(5.0, 0.2 * 2**failures))
                continue
            if sent < self._batch:
                await self._wake.wait(self._idle_s)

    async def relay_once(self) -> int:
        """Publish one batch (at most ``batch`` rows); the number of rows published."""
        async with self._draining:  # one round at a time in this process: no double sends
            if self._lock:
                async with self._factory() as session, session.begin():
                    rows = await self._claim(session)
                    if rows:
                        await self._publish_all(rows)
                        await self._mark(session, [r.id for r in rows])
                    return len(rows)
            async with self._reader() as session:
                rows = await self._claim(session)
            if rows:
                await self._publish_all(rows)
                async with self._factory() as session, session.begin():
                    await self._mark(session, [r.id for r in rows])
            return len(rows)

    async def purge_sent(self) -> None:
        """Delete rows sent longer ago than ``keep_sent``."""
        if self._keep_sent is None:
            return
        table = self._table
        cutoff = utcnow() - self._keep_sent
        async with self._factory() as session, session.begin():
            await session.execute(
                delete(table).where(table.sent_at.is_not(None), table.sent_at < cutoff)
            )

    async def _claim(self, session: AsyncSession) -> list[Any]:
        table = self._table
        query = select(table).where(table.sent_at.is_(None)).order_by(table.id).limit(self._batch)
        if self._lock:
            query = query.with_for_update(skip_locked=True)
        return list((await session.scalars(query)).all())

    async def _mark(self, session: AsyncSession, ids: list[int]) -> None:
        table = self._table
        await session.execute(update(table).where(table.id.in_(ids)).values(sent_at=utcnow()))

    async def _publish_all(self, rows: list[Any]) -> None:
        # Sends are queued in id order, so per-key (per-partition) order holds;
        # awaiting them together lets the producer batch them.
        sends = [asyncio.ensure_future(self._publish(row)) for row in rows]
        try:
            await asyncio.wait_for(asyncio.gather(*sends), timeout=self._timeout)
        except BaseException:
            for send in sends:
                send.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*sends, return_exceptions=True)
            raise

    async def _publish(self, row: Any) -> Any:
        carrier: Mapping[str, str] = getattr(row, "trace", None) or {}
        token = otel_context.attach(propagate.extract(dict(carrier)))
        try:
            return await self._publish_one(row.topic, row.key, row.payload.encode())
        finally:
            otel_context.detach(token)
