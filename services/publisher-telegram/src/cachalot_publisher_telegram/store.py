"""Post records: read and written in short transactions around Bot API calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_publisher_telegram.models import PostRow


@dataclass(frozen=True, slots=True)
class PostRecord:
    target_id: UUID
    chat_id: str | None
    method: str | None
    started_attempt: int | None
    unknown_reported_attempt: int | None
    telegraph_path: str | None
    telegraph_url: str | None
    telegraph_made_from: str | None
    message_ids: tuple[int, ...]
    remote_url: str | None

    @property
    def sent(self) -> bool:
        return bool(self.message_ids)


def _record(row: PostRow) -> PostRecord:
    return PostRecord(
        target_id=UUID(row.target_id),
        chat_id=row.chat_id,
        method=row.method,
        started_attempt=row.started_attempt,
        unknown_reported_attempt=row.unknown_reported_attempt,
        telegraph_path=row.telegraph_path,
        telegraph_url=row.telegraph_url,
        telegraph_made_from=row.telegraph_made_from,
        message_ids=tuple(json.loads(row.message_ids)) if row.message_ids else (),
        remote_url=row.remote_url,
    )


@dataclass(frozen=True, slots=True)
class Target:
    target_id: UUID
    post_id: UUID
    account_id: UUID


class PostStore:
    """The ``telegram_posts`` table behind a small, intent-named interface."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, target_id: UUID) -> PostRecord | None:
        async with self._sessions() as session:
            row = await session.get(PostRow, str(target_id))
            return _record(row) if row is not None else None

    async def _row(self, session: AsyncSession, target: Target) -> PostRow:
        row = await session.get(PostRow, str(target.target_id), with_for_update=True)
        if row is None:
            row = PostRow(
                target_id=str(target.target_id),
                post_id=str(target.post_id),
                account_id=str(target.account_id),
            )
            session.add(row)
        return row

    async def begin_send(self, target: Target, *, attempt: int, chat_id: str, method: str) -> None:
        """Before the call that posts: from here until :meth:`sent` or :meth:`not_sent`,
        a crash leaves the outcome unknown."""
        async with transaction(self._sessions) as session:
            row = await self._row(session, target)
            row.started_attempt = attempt
            row.chat_id = chat_id
            row.method = method

    async def not_sent(self, target_id: UUID) -> None:
        """Telegram answered with an error: nothing was posted."""
        async with transaction(self._sessions) as session:
            row = await session.get(PostRow, str(target_id))
            if row is not None and not row.message_ids:
                row.started_attempt = None

    async def sent(
        self, target_id: UUID, *, chat_id: str, message_ids: list[int], remote_url: str | None
    ) -> None:
        async with transaction(self._sessions) as session:
            row = await session.get(PostRow, str(target_id))
            if row is not None:
                row.chat_id = chat_id
                row.message_ids = json.dumps(message_ids)
                row.remote_url = remote_url

    async def unknown_reported(self, target_id: UUID, attempt: int) -> None:
        """``attempt`` ended ``outcome_unknown`` (unconfirmed); a later attempt may post."""
        async with transaction(self._sessions) as session:
            row = await session.get(PostRow, str(target_id))
            if row is not None:
                row.unknown_reported_attempt = attempt

    async def telegraph_page(self, target: Target, *, path: str, url: str, made_from: str) -> None:
        """The Telegraph page made for ``target``'s content ``made_from``
        (:attr:`PublishPost.made_from`); it replaces one made for other content."""
        async with transaction(self._sessions) as session:
            row = await self._row(session, target)
            row.telegraph_path = path
            row.telegraph_url = url
            row.telegraph_made_from = made_from
