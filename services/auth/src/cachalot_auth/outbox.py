"""Outbox for ``accounts.v1`` and ``sessions.v1``: the event is written in the change's transaction.

The relay publishes unsent rows in id order and marks them sent; a broker
that is down (or restarted empty) just means the rows wait. Delivery is
at-least-once: a crash between publish and mark re-sends, and consumers
dedupe on ``event_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.models import Account, OutboxMessage, utcnow
from cachalot_common import topics
from cachalot_common.events import AccountChanged, SessionEnded, SessionEndType

logger = logging.getLogger(__name__)

Publish = Callable[[str, str, bytes], Awaitable[None]]


def account_event(
    session: AsyncSession, account: Account, type_: str, *, reason: str | None = None
) -> AccountChanged:
    """Add an ``accounts.v1`` event about ``account`` to the current transaction."""
    event = AccountChanged(
        type=type_,  # type: ignore[arg-type]
        account_id=account.id,  # type: ignore[arg-type]
        client_id=account.client_id,  # type: ignore[arg-type]
        platform=account.platform,  # type: ignore[arg-type]
        display_name=account.display_name,
        scopes=account.scope_list(),
        reason=reason,
    )
    session.add(
        OutboxMessage(topic=topics.ACCOUNTS, key=account.id, payload=event.model_dump_json())
    )
    return event


def session_event(
    session: AsyncSession,
    type_: SessionEndType,
    *,
    client_id: str | UUID,
    expires_at: datetime,
    session_id: str | None = None,
) -> SessionEnded:
    """Add a ``sessions.v1`` event (key = client id) to the current transaction.

    ``expires_at``: when the last session it ends would have expired, so
    other services know how long to refuse it.
    """
    event = SessionEnded(
        type=type_,
        client_id=UUID(str(client_id)),
        session_id=session_id,
        expires_at=expires_at,
    )
    session.add(
        OutboxMessage(topic=topics.SESSIONS, key=str(client_id), payload=event.model_dump_json())
    )
    return event


class OutboxRelay:
    """Publishes outbox rows; ``nudge()`` after a commit makes it go at once."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        publish: Publish,
        *,
        interval_s: float = 1.0,
        batch: int = 100,
    ) -> None:
        self._factory = factory
        self._publish = publish
        self._interval = interval_s
        self._batch = batch
        self._wake = asyncio.Event()
        self._draining = asyncio.Lock()

    def nudge(self) -> None:
        self._wake.set()

    async def drain(self) -> int:
        """Publish everything unsent now; returns how many were published."""
        async with self._draining:  # one drain at a time: no double sends in-process
            return await self._drain()

    async def _drain(self) -> int:
        sent = 0
        while True:
            async with self._factory() as session:
                rows = (
                    await session.scalars(
                        select(OutboxMessage)
                        .where(OutboxMessage.sent_at.is_(None))
                        .order_by(OutboxMessage.id)
                        .limit(self._batch)
                    )
                ).all()
            if not rows:
                return sent
            for row in rows:
                await self._publish(row.topic, row.key, row.payload.encode())
                async with self._factory() as session, session.begin():
                    await session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.id == row.id)
                        .values(sent_at=utcnow())
                    )
                sent += 1

    async def run(self) -> None:
        while True:
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # broker down: rows wait for the next round
                logger.warning(
                    "outbox relay: publish failed (%s); will retry", type(error).__name__
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            self._wake.clear()
