"""Keyset pagination cursors, newest first: an opaque ``created_at|id`` token.

The client only passes back what it was given; anything else is a 422 naming
``cursor``. Used by the lists of posts and of media.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeVar
from uuid import UUID

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from cachalot_common.problems import Problem

RowT = TypeVar("RowT", bound="Keyed")
SelectT = TypeVar("SelectT", bound=Select[Any])


class Keyed(Protocol):
    """A row paged newest first: its creation time, then its id as the tie-break."""

    created_at: datetime
    id: UUID


def newest_first(
    query: SelectT,
    *,
    created_at: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[UUID],
    cursor: str | None,
    limit: int,
) -> SelectT:
    """``query`` after ``cursor`` (if any), newest first, one row more than ``limit``.

    The extra row tells :func:`cut_page` whether a next page exists. Raises a
    422 :class:`Problem` naming ``cursor`` for a cursor this API did not give.
    """
    if cursor:
        after, last_id = read_cursor(cursor)
        query = query.where(or_(created_at < after, and_(created_at == after, id_ < last_id)))
    return query.order_by(created_at.desc(), id_.desc()).limit(limit + 1)


def soonest_first(
    query: SelectT,
    *,
    key: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[UUID],
    cursor: str | None,
    limit: int,
) -> SelectT:
    """``query`` after ``cursor`` (if any), by ``key`` ascending (the soonest first), then
    by id; one row more than ``limit``. The cursor is the same token as
    :func:`newest_first`'s, holding ``key``'s value; a bad one is a 422 naming ``cursor``."""
    if cursor:
        after, last_id = read_cursor(cursor)
        query = query.where(or_(key > after, and_(key == after, id_ > last_id)))
    return query.order_by(key.asc(), id_.asc()).limit(limit + 1)


def cut_page(
    rows: list[RowT], limit: int, *, key: Callable[[RowT], datetime] | None = None
) -> tuple[list[RowT], str | None]:
    """The page of ``rows`` (fetched by :func:`newest_first` or :func:`soonest_first`) and
    the next page's cursor; ``key`` reads the ordering time of a row (``created_at``
    when not given)."""
    page = rows[:limit]
    more = len(rows) > limit and bool(page)
    if not more:
        return page, None
    last = page[-1]
    return page, write_cursor(key(last) if key else last.created_at, last.id)


def write_cursor(created_at: datetime, last_id: UUID) -> str:
    """The token for "after (``created_at``, ``last_id``)" in newest-first order."""
    raw = f"{created_at.isoformat()}|{last_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(cursor: str) -> tuple[datetime, UUID]:
    """``(created_at, id)`` from a token; raises a 422 :class:`Problem` naming ``cursor``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, ident = raw.partition("|")
        value = datetime.fromisoformat(created)
        if value.tzinfo is None:
            raise ValueError("naive")
        return value, UUID(ident)
    except ValueError as error:
        errors: list[dict[str, Any]] = [
            {
                "field": "cursor",
                "in": "query",
                "message": "not a cursor this API gave out",
                "type": "value_error",
            }
        ]
        raise Problem(422, "Invalid input: cursor.", errors=errors) from error
