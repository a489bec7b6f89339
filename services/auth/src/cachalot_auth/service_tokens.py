"""Single use of service JWTs: each ``jti`` is spent once, remembered until it expires.

A service JWT lives at most a minute (:mod:`cachalot_common.service_auth`), but
one captured in that minute could otherwise be replayed as often as wished.
Spending is an insert into ``spent_service_tokens`` keyed by the ``jti``: the
primary key makes a second use fail on every replica at once (PostgreSQL in
the distributed mode; SQLite's single process in embedded mode). Rows whose
token has expired can no longer be replayed anyway and are pruned on the way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.models import SpentServiceToken, utcnow
from cachalot_common.service_auth import LEEWAY_S, ServiceIdentity


class TokenReplayed(Exception):
    """This service JWT was already used once."""


class SpentTokens:
    """The ledger of used service JWTs (the ``spent_service_tokens`` table)."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory

    async def spend(self, identity: ServiceIdentity) -> None:
        """Record ``identity.token_id`` as used; raise :class:`TokenReplayed` if it was.

        The row is kept until the token's ``exp`` plus the verification leeway
        (seconds), after which the signature check refuses the token by itself.
        """
        now = utcnow()
        keep_until = datetime.fromtimestamp(identity.expires_at, UTC) + timedelta(seconds=LEEWAY_S)
        try:
            async with self._factory() as db, db.begin():
                await self._prune(db, now)
                seen = await db.scalar(
                    select(SpentServiceToken.token_id).where(
                        SpentServiceToken.token_id == identity.token_id
                    )
                )
                if seen is not None:
                    raise TokenReplayed(identity.token_id)
                db.add(
                    SpentServiceToken(
                        token_id=identity.token_id,
                        service=identity.service,
                        expires_at=keep_until,
                    )
                )
        except IntegrityError:  # another replica spent it between our read and insert
            raise TokenReplayed(identity.token_id) from None

    @staticmethod
    async def _prune(db: AsyncSession, now: datetime) -> None:
        await db.execute(delete(SpentServiceToken).where(SpentServiceToken.expires_at < now))
