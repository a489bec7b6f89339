"""Leased rows: how a replica takes a pending row for a while, and gives it back.

The notifier's two outgoing queues (Telegram deliveries, client e-mails)
are tables whose rows a background sender takes one at a time. A row is
taken with one conditional ``UPDATE`` (pending, due, no live lease), which a
single row can win only once per lease: on SQLite (one writer) and on
PostgreSQL (the second ``UPDATE`` waits for the first, re-reads the row and
no longer matches). Only the lease's owner may finish or release it.
Times are epoch seconds (``time.time()``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_notifier.models import LeasedRow

Row = TypeVar("Row", bound=LeasedRow)
Taken = TypeVar("Taken")


def takeable(model: type[LeasedRow], now: float) -> ColumnElement[bool]:
    """The condition of a row any replica may take at ``now``: pending, due, lease free."""
    return (
        (model.state == "pending")
        & (model.not_before <= now)
        & (model.claimed_until.is_(None) | (model.claimed_until < now))
    )


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    model: type[Row],
    row_id: int,
    read: Callable[[Row], Taken],
    *,
    owner: str,
    now: float,
    lease_s: float,
) -> Taken | None:
    """Take row ``row_id`` of ``model`` for ``lease_s`` seconds; ``read(row)`` of it, or None.

    None when another replica holds a live lease on it, it is not due yet, or
    it is no longer pending. The row's ``attempts`` counts each taking.
    """
    async with transaction(sessions) as session:
        result: Any = await session.execute(
            update(model)
            .where(model.id == row_id, takeable(model, now))
            .values(claimed_by=owner, claimed_until=now + lease_s, attempts=model.attempts + 1)
        )
        if result.rowcount != 1:
            return None
        return read(await session.get_one(model, row_id))


async def release(
    sessions: async_sessionmaker[AsyncSession],
    model: type[LeasedRow],
    row_id: int,
    *,
    owner: str,
    **values: Any,
) -> None:
    """End ``owner``'s lease on the row, writing ``values``; a no-op if the lease is not theirs."""
    async with transaction(sessions) as session:
        await session.execute(
            update(model)
            .where(model.id == row_id, model.claimed_by == owner)
            .values(claimed_by=None, claimed_until=None, **values)
        )
