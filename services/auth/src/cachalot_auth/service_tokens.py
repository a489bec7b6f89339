"""Single use of service JWTs: each ``jti`` is spent once, remembered until it expires.

A service JWT lives at most a minute (:mod:`cachalot_common.service_auth`), but
one captured in that minute could otherwise be replayed as often as wished.
Spending is an insert into ``spent_service_tokens`` keyed by the ``jti``: the
primary key makes a second use fail on every replica at once (PostgreSQL in
the distributed mode; SQLite's single process in embedded mode). Rows whose
token has expired can no longer be replayed anyway and are pruned on the way,
at most once per ``prune_every_s`` (a prune on every request was a third of
the ledger's cost per lease, issue 9).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.models import SpentServiceToken, utcnow
from cachalot_common.service_auth import LEEWAY_S, ServiceIdentity


class TokenReplayed(Exception):
    """This service JWT was already used once."""


class SpentTokens:
    """The ledger of used service JWTs (the ``spent_service_tokens`` table)."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        prune_every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``prune_every_s``: seconds between two prunes of expired rows (0: at every spend)."""
        self._factory = factory
        self._prune_every_s = prune_every_s
        self._clock = clock
        self._pruned_at: float | None = None

    async def spend(self, identity: ServiceIdentity, db: AsyncSession | None = None) -> None:
        """Record ``identity.token_id`` as used; raise :class:`TokenReplayed` if it was.

        The row is kept until the token's ``exp`` plus the verification leeway
        (seconds), after which the signature check refuses the token by itself.
        One INSERT: the primary key refuses a second use (here or on any replica).
        ``db``: a session whose transaction is open, in which the row is written (it
        counts once that transaction commits: the request's own work, issue 9); without
        it, a transaction of its own, committed when this returns.
        """
        if db is not None:
            await self._spend(db, identity)
            return
        async with self._factory() as own, own.begin():
            await self._spend(own, identity)

    async def _spend(self, db: AsyncSession, identity: ServiceIdentity) -> None:
        keep_until = datetime.fromtimestamp(identity.expires_at, UTC) + timedelta(seconds=LEEWAY_S)
        ticks = self._clock()
        if self._pruned_at is None or ticks - self._pruned_at >= self._prune_every_s:
            self._pruned_at = ticks
            await self._prune(db, utcnow())
        try:
            await db.execute(
                insert(SpentServiceToken).values(
                    token_id=identity.token_id,
                    service=identity.service,
                    expires_at=keep_until,
                )
            )
        except IntegrityError:  # spent before, here or on another replica
            raise TokenReplayed(identity.token_id) from None

    @staticmethod
    async def _prune(db: AsyncSession, now: datetime) -> None:
        await db.execute(delete(SpentServiceToken).where(SpentServiceToken.expires_at < now))
