"""Keyset pagination cursors, newest first: an opaque ``created_at|id`` token.

The client only passes back what it was given; anything else is a 422 naming
``cursor``. Used by the lists of posts and of media.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from uuid import UUID

from cachalot_common.problems import Problem


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
