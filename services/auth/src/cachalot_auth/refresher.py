"""Background refresher: keeps long-lived tokens (Instagram's 60 days) alive.

Instagram has no refresh token: its long-lived token must itself be
refreshed once it is a day old and before it expires. Every interval this
renews those with less than ``before_s`` left, through the same
once-per-account refresh that leases use. Which platforms work this way is
each provider's ``self_renewing``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.leasing import LeaseRefused, TokenKeeper
from cachalot_auth.models import Account, Token, utcnow
from cachalot_auth.providers.base import PlatformUnavailable

logger = logging.getLogger(__name__)

MIN_AGE = timedelta(hours=24)


async def refresh_due(
    factory: async_sessionmaker[AsyncSession], keeper: TokenKeeper, *, before_s: float
) -> int:
    """Refresh every long-lived token that is due; returns how many were refreshed."""
    now = utcnow()
    async with factory() as db:
        due = (
            await db.scalars(
                select(Account.id)
                .join(Token, (Token.account_id == Account.id) & (Token.kind == "access"))
                .where(
                    Account.platform.in_(keeper.self_renewing_platforms),
                    Account.status == "ok",
                    Token.expires_at < now + timedelta(seconds=before_s),
                    Token.expires_at > now,
                    Token.issued_at < now - MIN_AGE,
                )
            )
        ).all()
    done = 0
    for account_id in due:
        try:
            await keeper.refresh(account_id, force=True, seen_ciphertext=None)
            done += 1
        except (LeaseRefused, PlatformUnavailable) as error:
            logger.warning("background refresh of %s: %s", account_id, type(error).__name__)
    return done


async def run_refresher(
    factory: async_sessionmaker[AsyncSession],
    keeper: TokenKeeper,
    *,
    before_s: float,
    interval_s: float,
) -> None:
    while True:
        try:
            await refresh_due(factory, keeper, before_s=before_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("background refresher round failed")
        await asyncio.sleep(interval_s)
