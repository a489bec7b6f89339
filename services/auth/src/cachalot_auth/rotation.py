"""``rotate-keys``: re-seal every token under the newest key, safely while running.

Rows are taken in small batches ordered by key; each row is re-sealed and
written back with a compare-and-swap on its old ciphertext, so a refresh
that replaced the token meanwhile wins (its new ciphertext is already under
the newest key) and nothing is lost. Interrupted, it simply resumes: it only
ever selects rows whose ``key_version`` is not the newest one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_auth.custody import TokenVault
from cachalot_auth.models import Account, Token

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class RotationReport:
    resealed: int = 0
    skipped_changed: int = 0
    failed: int = 0


async def rotate_keys(
    factory: async_sessionmaker[AsyncSession], vault: TokenVault, *, batch: int = 100
) -> RotationReport:
    report = RotationReport()
    newest = vault.keys.primary_version
    after: tuple[str, str] = ("", "")
    failed: set[tuple[str, str]] = set()
    while True:
        async with factory() as db:
            rows = (
                await db.execute(
                    select(Token, Account)
                    .join(Account, Account.id == Token.account_id)
                    .where(Token.key_version != newest)
                    .where(
                        (Token.account_id > after[0])
                        | ((Token.account_id == after[0]) & (Token.kind > after[1]))
                    )
                    .order_by(Token.account_id, Token.kind)
                    .limit(batch)
                )
            ).all()
        if not rows:
            break
        for token, account in rows:
            after = (token.account_id, token.kind)
            try:
                sealed = vault.keys.reseal(
                    token.ciphertext, vault.context(account.id, account.platform, token.kind)
                )
            except Exception as error:
                failed.add(after)
                report.failed += 1
                logger.error("rotate-keys: %s", error)
                continue
            async with factory() as db, db.begin():
                result = await db.execute(
                    update(Token)
                    .where(
                        Token.account_id == token.account_id,
                        Token.kind == token.kind,
                        Token.ciphertext == token.ciphertext,
                    )
                    .values(ciphertext=sealed, key_version=newest)
                )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                report.resealed += 1
            else:
                report.skipped_changed += 1
    return report
