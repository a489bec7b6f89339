"""Reading and writing upload sessions: one statement per call, each its own transaction.

Plain SQL (SQLAlchemy Core on an engine connection, statements cached by
SQLAlchemy's compiled cache) rather than the ORM's unit of work: a post does
three of these (the lookup, the record before the first byte, the final
mark), and the session and identity-map machinery around them was most of
their cost (``bench/pipeline.py``, py-spy).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cachalot_publisher_tiktok.models import UploadSession

_TABLE: Table = UploadSession.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class NewSession:
    publish_id: str
    target_id: uuid.UUID
    attempt: int
    post_id: uuid.UUID
    account_id: uuid.UUID
    upload_url: str
    upload_expires_at: datetime
    video_size: int
    chunk_size: int
    total_chunk_count: int
    creator_username: str | None


@dataclass(frozen=True, slots=True)
class RecordedSession:
    """What a redelivered command needs of a recorded publish (a ``tiktok_upload_sessions`` row)."""

    publish_id: str
    attempt: int
    state: str
    upload_url: str
    upload_expires_at: datetime
    video_size: int
    chunk_size: int
    total_chunk_count: int
    creator_username: str | None
    remote_id: str | None
    remote_url: str | None
    fail_code: str | None
    fail_reason: str | None


# built once, values bound per call: building a statement per call cost more than running it
_LATEST = (
    select(*(_TABLE.c[name] for name in RecordedSession.__slots__))
    .where(_TABLE.c.target_id == bindparam("b_target_id"))
    .order_by(_TABLE.c.created_at.desc(), _TABLE.c.attempt.desc())
    .limit(1)
)
_INSERT = insert(_TABLE)
_MARK = update(_TABLE).where(_TABLE.c.publish_id == bindparam("b_publish_id"))


class SessionStore:
    """Upload sessions by target: the memory that prevents a second post."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def latest(self, target_id: uuid.UUID) -> RecordedSession | None:
        """The most recent session of a target (any attempt)."""
        async with self._engine.connect() as connection:
            row = (await connection.execute(_LATEST, {"b_target_id": target_id})).first()
        return None if row is None else RecordedSession(*row)

    async def record(self, new: NewSession) -> None:
        """Write the publish_id down; committed when this returns, before any byte is sent."""
        async with self._engine.begin() as connection:
            await connection.execute(_INSERT, {**_fields(new), "state": "uploading"})

    async def mark(self, publish_id: str, state: str, **fields: Any) -> None:
        """Set a session's ``state`` and ``fields`` (remote id and URL, failure code, reason)."""
        async with self._engine.begin() as connection:
            await connection.execute(_MARK, {"state": state, **fields, "b_publish_id": publish_id})


def _fields(new: NewSession) -> dict[str, Any]:
    return {name: getattr(new, name) for name in NewSession.__slots__}
