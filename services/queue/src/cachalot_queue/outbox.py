"""The transactional outbox: events are rows written with the change they describe.

:func:`enqueue` adds a row inside the caller's transaction; the shared relay
(:class:`cachalot_common.outbox.OutboxRelay`, built by :func:`build_relay`)
publishes unsent rows in id order and marks them sent only after the broker
acknowledged them. A crash between publish and mark re-publishes (consumers
are idempotent); a broker that lost everything gets every unsent row again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry import propagate
from pydantic import BaseModel
from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from cachalot_common.events import utcnow
from cachalot_common.outbox import AckCheck, OutboxRelay, Publish, kafka_publish
from cachalot_common.wakeup import Wakeup
from cachalot_queue.tables import OutboxMessage


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


def build_relay(
    factory: async_sessionmaker[AsyncSession],
    broker: KafkaBroker | Publish,
    *,
    reader: async_sessionmaker[AsyncSession] | None = None,
    wake: Wakeup,
    claim_with_lock: bool,
    batch: int = 500,
    check: AckCheck | None = None,
) -> OutboxRelay:
    """The shared relay (``cachalot_common.outbox``) over the queue's ``outbox`` table.

    ``broker``: where the events go (its producer, :func:`~cachalot_common.outbox.kafka_publish`),
    or a :data:`~cachalot_common.outbox.Publish` of the test's own.
    Sent rows are kept an hour (enough to see what went out), then deleted. ``check``
    confirms each batch's acknowledgements (``cachalot_common.broker_acks.ack_check``).
    """
    return OutboxRelay.for_table(
        factory,
        OutboxMessage,
        kafka_publish(broker) if isinstance(broker, KafkaBroker) else broker,
        reader=reader,
        wake=wake,
        claim_with_lock=claim_with_lock,
        batch=batch,
        keep_sent=timedelta(hours=1),
        check=check,
    )
