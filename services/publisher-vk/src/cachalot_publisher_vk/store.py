"""Wall-post records: read and written in short transactions around VK calls."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction
from cachalot_publisher_vk.models import WallPostRow


@dataclass(frozen=True, slots=True)
class WallPostRecord:
    owner_id: int
    attachments: tuple[str, ...]
    wall_post_id: int | None
    made_from: str | None = None


class WallPostStore:
    """The ``vk_wall_posts`` table behind a small, intent-named interface."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def get(self, target_id: UUID) -> WallPostRecord | None:
        async with self._sessions() as session:
            row = await session.get(WallPostRow, str(target_id))
            if row is None:
                return None
            attachments = tuple(a for a in row.attachments.split(",") if a)
            return WallPostRecord(row.owner_id, attachments, row.wall_post_id, row.made_from)

    async def start(
        self, *, target_id: UUID, post_id: UUID, account_id: UUID, owner_id: int, made_from: str
    ) -> None:
        """Create the target's record before anything goes to VK, or start it again for
        other content (``made_from`` differs and no wall post was made): the attachments
        uploaded for the old files are forgotten."""
        async with transaction(self._sessions) as session:
            row = await session.get(WallPostRow, str(target_id), with_for_update=True)
            if row is None:
                session.add(
                    WallPostRow(
                        target_id=str(target_id),
                        post_id=str(post_id),
                        account_id=str(account_id),
                        owner_id=owner_id,
                        attachments="",
                        made_from=made_from,
                    )
                )
            elif row.wall_post_id is None and row.made_from != made_from:
                row.attachments = ""
                row.owner_id = owner_id
                row.made_from = made_from

    async def add_attachment(self, target_id: UUID, attachment: str) -> None:
        """Remember one uploaded attachment (``photo-1_2``, ``video3_4``), in order."""
        async with transaction(self._sessions) as session:
            row = await session.get(WallPostRow, str(target_id), with_for_update=True)
            if row is not None:
                row.attachments = ",".join(
                    [a for a in row.attachments.split(",") if a] + [attachment]
                )

    async def forget_attachments(self, target_id: UUID) -> None:
        """Forget the attachments uploaded for a target with no wall post yet: VK refused
        them (deleted or expired on VK's side), so the next attempt uploads the files again."""
        async with transaction(self._sessions) as session:
            row = await session.get(WallPostRow, str(target_id), with_for_update=True)
            if row is not None and row.wall_post_id is None:
                row.attachments = ""

    async def record_post(self, target_id: UUID, wall_post_id: int, *, owner_id: int) -> None:
        """Remember the wall post VK made and the wall it is on.

        ``owner_id`` is the wall's real id (the user's VK id for their own wall, ``-group`` for
        a community), never the 0 ``start`` may have saved for "own wall": a redelivered command
        replays this record, and ``<owner>_<post>`` is the post's id and link on VK.
        """
        async with transaction(self._sessions) as session:
            row = await session.get(WallPostRow, str(target_id))
            if row is not None:
                row.wall_post_id = wall_post_id
                row.owner_id = owner_id
