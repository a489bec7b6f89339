"""Sessions that ended: auth's ``sessions.v1`` feed, in memory and in our database.

Every client endpoint checks the session cookie against an in-memory
:class:`~cachalot_common.sessions.MemoryRevocations` (no call to auth per
request). This module fills it:

* at start, from the ``session_revocations`` table (a restart, or a broker
  that lost its topics, still refuses what was revoked before);
* then from ``sessions.v1``, read by every replica from the start of the
  topic (a broadcast subscriber: no consumer group), each event written to
  the table (idempotent on ``event_id``) and to memory.

Rows are kept until the sessions they end expire, then pruned.

``client_erased`` also erases what the queue holds of the client, as
``accounts.v1`` ``deleted`` does (a client with no account still has its
uploads), and is remembered: an upload or post that raced the erasure
(accepted by a replica that had not read the event yet) is checked against
the table after it is written, erased and refused (:meth:`refuse_if_erased`).
The erasure's mark is committed before its data is deleted, so either the
late write sees the mark or the deletion sees the late write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.events import SessionEnded
from cachalot_common.sessions import MemoryRevocations
from cachalot_queue.erase import erase_client
from cachalot_queue.tables import SessionRevocation

logger = logging.getLogger(__name__)

PRUNE_EVERY_S = 600.0


class ClientErased(Exception):
    """The client erased their data: nothing of theirs may be kept or accepted."""


class Revocations:
    """The queue's copy of ``sessions.v1``: the handler, the start-up load, the pruning."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        reader: async_sessionmaker[AsyncSession],
        memory: MemoryRevocations,
        media_dir: Path,
        clock: Callable[[], datetime],
    ) -> None:
        self._factory = factory
        self._reader = reader
        self.memory = memory
        self._media_dir = media_dir
        self._clock = clock

    def _remember(
        self,
        type_: str,
        client_id: UUID,
        session_id: str | None,
        occurred_at: datetime,
        expires_at: datetime,
    ) -> None:
        until = int(expires_at.timestamp())
        if type_ == "revoked" and session_id is not None:
            self.memory.revoke_session(session_id, expires_at=until)
        else:
            self.memory.revoke_client(
                client_id, issued_up_to=occurred_at.timestamp(), expires_at=until
            )

    async def load(self) -> int:
        """Fill memory from the table (rows not yet expired); how many rows."""
        async with self._reader() as session:
            rows = (
                await session.scalars(
                    select(SessionRevocation).where(SessionRevocation.expires_at > self._clock())
                )
            ).all()
        for row in rows:
            self._remember(row.type, row.client_id, row.session_id, row.occurred_at, row.expires_at)
        logger.info("%d session revocations loaded", len(rows))
        return len(rows)

    async def on_session(self, event: SessionEnded) -> None:
        """Apply one ``sessions.v1`` event; a redelivery changes nothing.

        An event whose sessions have all expired is ignored: their cookies
        are refused anyway.
        """
        if event.expires_at <= self._clock():
            return
        self._remember(
            event.type, event.client_id, event.session_id, event.occurred_at, event.expires_at
        )
        async with self._factory() as session, session.begin():
            values: dict[str, Any] = {
                "event_id": event.event_id,
                "type": event.type,
                "client_id": event.client_id,
                "session_id": event.session_id,
                "occurred_at": event.occurred_at,
                "expires_at": event.expires_at,
            }
            insert = (
                sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
            )
            await session.execute(insert(SessionRevocation).values(values).on_conflict_do_nothing())
        if event.type == "client_erased":
            async with self._factory() as session, session.begin():
                await erase_client(session, event.client_id, self._media_dir)

    async def refuse_if_erased(self, client_id: UUID) -> None:
        """After a write for ``client_id``: if the client was erased, erase it again and raise.

        Raises :class:`ClientErased` (the caller answers 401).
        """
        async with self._reader() as session:
            mark = await session.scalar(
                select(SessionRevocation.event_id)
                .where(
                    SessionRevocation.client_id == client_id,
                    SessionRevocation.type == "client_erased",
                )
                .limit(1)
            )
        if mark is None:
            return
        async with self._factory() as session, session.begin():
            await erase_client(session, client_id, self._media_dir)
        raise ClientErased()

    async def prune(self) -> int:
        """Forget revocations whose sessions have all expired; rows deleted."""
        now = self._clock()
        async with self._factory() as session, session.begin():
            result = await session.execute(
                delete(SessionRevocation).where(SessionRevocation.expires_at <= now)
            )
        self.memory.prune(now.timestamp())
        return int(getattr(result, "rowcount", 0) or 0)

    async def run_pruner(self, every_s: float = PRUNE_EVERY_S) -> None:
        """Prune now and then, for ever (a task of the app's lifespan)."""
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.prune()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: next round
                logger.warning("pruning session revocations failed (%s)", type(error).__name__)
