"""Reading and writing upload sessions (the unit of work is per call)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_publisher_tiktok.models import UploadSession


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


class SessionStore:
    """Upload sessions by target: the memory that prevents a second post."""

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory

    async def latest(self, target_id: uuid.UUID) -> UploadSession | None:
        """The most recent session of a target (any attempt)."""
        async with self._factory() as session:
            result = await session.execute(
                select(UploadSession)
                .where(UploadSession.target_id == target_id)
                .order_by(UploadSession.created_at.desc(), UploadSession.attempt.desc())
                .limit(1)
            )
            return result.scalar_one_or_none()

    async def record(self, new: NewSession) -> None:
        """Write the publish_id down (committed before any byte is sent)."""
        async with transaction(self._factory) as session:
            # one INSERT, without the ORM's unit of work (a fifth of the statement's cost)
            await session.execute(insert(UploadSession).values(**_fields(new), state="uploading"))

    async def mark(self, publish_id: str, state: str, **fields: Any) -> None:
        async with transaction(self._factory) as session:
            await session.execute(
                update(UploadSession)
                .where(UploadSession.publish_id == publish_id)
                .values(state=state, **fields)
            )


def _fields(new: NewSession) -> dict[str, Any]:
    return {name: getattr(new, name) for name in NewSession.__slots__}
