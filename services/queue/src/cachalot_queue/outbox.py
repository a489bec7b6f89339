"""The transactional outbox: events are rows written with the change they describe.

:func:`enqueue` adds a row inside the caller's transaction; :class:`OutboxRelay`
publishes unsent rows in id order and marks them sent only after the broker
acknowledged them. A crash between publish and mark re-publishes (consumers
are idempotent); a broker that lost everything gets every unsent row again.
On PostgreSQL several relays share the table by claiming rows with
``FOR UPDATE SKIP LOCKED``; on SQLite one process is the only writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry import context as otel_context
from opentelemetry import propagate
from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from cachalot_common.events import utcnow
from cachalot_queue.tables import OutboxMessage
from cachalot_queue.wakeup import Wakeup

logger = logging.getLogger(__name__)


def enqueue(session: AsyncSession, topic: str, key: str, event: BaseModel) -> None:
    """Add ``event`` to the outbox in the caller's transaction (with its trace context).

    Rows are gathered on the session and written by one multi-row INSERT just
    before the transaction commits (see :func:`session_factory`).
    """
    if not isinstance(session.sync_session, OutboxSession):
        raise TypeError("outbox events need a session from cachalot_queue.outbox.session_factory")
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    pending: list[dict[str, Any]] = session.info.setdefault(_PENDING, [])
    pending.append(
        {
            "topic": topic,
            "key": key,
            "payload": event.model_dump_json(),
            "trace": carrier or None,
            "created_at": utcnow(),
            "sent_at": None,
        }
    )


_PENDING = "cachalot_outbox"


class OutboxSession(Session):
    """A session that writes its pending outbox rows as part of its commit."""


@sa_event.listens_for(OutboxSession, "before_commit")
def _write_outbox(session: Session) -> None:
    rows = session.info.pop(_PENDING, None)
    if rows:
        session.execute(insert(OutboxMessage), rows)


@sa_event.listens_for(OutboxSession, "after_rollback")
def _drop_outbox(session: Session) -> None:
    session.info.pop(_PENDING, None)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions of the queue: objects stay usable after commit; the outbox rides along."""
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=OutboxSession)


class OutboxRelay:
    """Publishes the outbox to Kafka, in order, marking rows after the broker acks."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        broker: KafkaBroker,
        *,
        reader: async_sessionmaker[AsyncSession] | None = None,
        wake: Wakeup,
        claim_with_lock: bool,
        batch: int = 500,
        idle_s: float = 0.2,
        publish_timeout_s: float = 30.0,
        keep_sent: timedelta = timedelta(hours=1),
    ) -> None:
        self._factory = factory
        self._reader = reader or factory
        self._broker = broker
        self._wake = wake
        self._lock = claim_with_lock
        self._batch = batch
        self._idle_s = idle_s
        self._timeout = publish_timeout_s
        self._keep_sent = keep_sent

    async def run(self) -> None:
        failures = 0
        purged_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                sent = await self.relay_once()
                failures = 0
                if loop.time() - purged_at > 60:
                    purged_at = loop.time()
                    await self.purge_sent()
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                logger.warning("outbox relay failed; retrying", exc_info=True)
                await asyncio.sleep(min(5.0, 0.2 * 2**failures))
                continue
            if sent < self._batch:
                await self._wake.wait(self._idle_s)

    async def relay_once(self) -> int:
        """Publish one batch; the number of rows published."""
        if self._lock:
            async with self._factory() as session, session.begin():
                rows = await self._claim(session)
                if rows:
                    await self._publish_all(rows)
                    await self._mark(session, [r.id for r in rows])
                return len(rows)
        async with self._reader() as session:  # one relay per SQLite file: reading is enough
            rows = await self._claim(session)
        if rows:
            await self._publish_all(rows)
            async with self._factory() as session, session.begin():
                await self._mark(session, [r.id for r in rows])
        return len(rows)

    async def purge_sent(self) -> None:
        cutoff = utcnow() - self._keep_sent
        async with self._factory() as session, session.begin():
            await session.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.sent_at.is_not(None), OutboxMessage.sent_at < cutoff
                )
            )

    async def _claim(self, session: AsyncSession) -> list[OutboxMessage]:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.id)
            .limit(self._batch)
        )
        if self._lock:
            query = query.with_for_update(skip_locked=True)
        return list((await session.scalars(query)).all())

    async def _mark(self, session: AsyncSession, ids: list[int]) -> None:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(sent_at=utcnow())
        )

    async def _publish_all(self, rows: list[OutboxMessage]) -> None:
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

    async def _publish(self, row: OutboxMessage) -> Any:
        token = otel_context.attach(propagate.extract(row.trace or {}))
        try:
            return await self._broker.publish(
                row.payload.encode(),
                topic=row.topic,
                key=row.key.encode(),
                headers={"content-type": "application/json"},
            )
        finally:
            otel_context.detach(token)
