"""Container records: read and written in short transactions around Graph calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_publisher_instagram.models import ContainerRow


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    target_id: UUID
    children: tuple[str, ...]
    container_id: str | None
    media_id: str | None
    permalink: str | None
    created_at: datetime  # when the target's first container was recorded (UTC)
    made_from: str | None = None  # PublishPost.made_from of the containers (None: before 0002)
    failed_attempt: int | None = None  # PublishPost.attempt that saw the container end in ERROR


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ContainerStore:
    """The ``instagram_containers`` table behind a small, intent-named interface."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, target_id: UUID) -> ContainerRecord | None:
        async with self._sessions() as session:
            row = await session.get(ContainerRow, str(target_id))
            if row is None:
                return None
            return ContainerRecord(
                target_id=target_id,
                children=tuple(c for c in row.children.split(",") if c),
                container_id=row.container_id,
                media_id=row.media_id,
                permalink=row.permalink,
                created_at=_utc(row.created_at),
                made_from=row.made_from,
                failed_attempt=row.failed_attempt,
            )

    async def _row(
        self,
        session: AsyncSession,
        target_id: UUID,
        post_id: UUID,
        account_id: UUID,
        made_from: str,
    ) -> ContainerRow:
        row = await session.get(ContainerRow, str(target_id), with_for_update=True)
        if row is None:
            row = ContainerRow(
                target_id=str(target_id),
                post_id=str(post_id),
                account_id=str(account_id),
                children="",
                containers_created=0,
            )
            session.add(row)
        row.made_from = made_from
        return row

    async def record_children(
        self,
        *,
        target_id: UUID,
        post_id: UUID,
        account_id: UUID,
        made_from: str,
        children: list[str],
    ) -> None:
        """Remember the carousel's item containers made so far (in order), and what for."""
        async with transaction(self._sessions) as session:
            row = await self._row(session, target_id, post_id, account_id, made_from)
            row.children = ",".join(children)

    async def record_container(
        self,
        *,
        target_id: UUID,
        post_id: UUID,
        account_id: UUID,
        made_from: str,
        container_id: str,
    ) -> None:
        """Remember the container to publish, as soon as Instagram made it, and what for."""
        async with transaction(self._sessions) as session:
            row = await self._row(session, target_id, post_id, account_id, made_from)
            row.container_id = container_id
            row.containers_created = (row.containers_created or 0) + 1

    async def forget_containers(self, target_id: UUID) -> None:
        """The containers failed or expired: the next try makes new ones."""
        async with transaction(self._sessions) as session:
            row = await session.get(ContainerRow, str(target_id), with_for_update=True)
            if row is not None and row.media_id is None:
                row.container_id = None
                row.children = ""
                row.failed_attempt = None

    async def record_failure(self, target_id: UUID, attempt: int) -> None:
        """The recorded container ended in ERROR during ``attempt`` (PublishPost.attempt): a
        redelivery of that attempt reads it again, a later attempt makes new containers."""
        async with transaction(self._sessions) as session:
            row = await session.get(ContainerRow, str(target_id), with_for_update=True)
            if row is not None and row.media_id is None:
                row.failed_attempt = attempt

    async def record_media(self, target_id: UUID, media_id: str, published_at: datetime) -> None:
        async with transaction(self._sessions) as session:
            row = await session.get(ContainerRow, str(target_id), with_for_update=True)
            if row is not None:
                row.media_id = media_id
                row.published_at = published_at

    async def record_permalink(self, target_id: UUID, permalink: str) -> None:
        async with transaction(self._sessions) as session:
            row = await session.get(ContainerRow, str(target_id))
            if row is not None:
                row.permalink = permalink

    async def published_since(self, account_id: UUID, since: datetime) -> list[datetime]:
        """When this account's posts went out since ``since`` (oldest first), by this service."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ContainerRow.published_at)
                .where(
                    ContainerRow.account_id == str(account_id),
                    ContainerRow.published_at.is_not(None),
                    ContainerRow.published_at >= since,
                )
                .order_by(ContainerRow.published_at)
            )
            return [_utc(at) for at in rows if at is not None]
