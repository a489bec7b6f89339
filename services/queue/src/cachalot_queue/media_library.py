"""A client's stored files: list them with the posts that use them, and delete them.

A file is used by a post as its video, one of its images or its article's
cover (``post_media``); everything below holds for each of those roles.

A client who reaches the media quota (:mod:`cachalot_queue.media_quota`) frees
room by deleting videos. A video can be deleted once every post made from it
is finished with it: while a target is scheduled, paused, dispatched or
publishing (:data:`~cachalot_queue.states.NEEDS_MEDIA`) a publisher may still
read the file, so the delete is refused naming those posts. Finished posts
stay, with their history; they show the video as deleted, and a failed target
of theirs can no longer be retried (:meth:`PostService.retry`).

The row goes in one transaction (the video's row locked, so a post being
created from it or a retry of one of its posts waits or is waited for), the
file after the commit: a queue stopped in between leaves a file without a
row, which the media sweep removes (:meth:`MediaQuota.sweep`). Another
client's video is simply not found, never "forbidden".
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_queue.media_quota import used_bytes
from cachalot_queue.media_store import remove_files
from cachalot_queue.paging import cut_page, newest_first
from cachalot_queue.schemas import MediaExport, MediaItem, MediaPage, MediaUsage
from cachalot_queue.sniff import MediaType
from cachalot_queue.states import NEEDS_MEDIA
from cachalot_queue.tables import Delivery, Media, Post, PostMedia, Proposal, Target
from cachalot_queue.thumbnails import make_thumbnail, thumbnail_path

logger = logging.getLogger(__name__)


class MediaNotFound(Exception):
    """No such video among the client's (another client's is not found either)."""

    def __init__(self, media_id: UUID) -> None:
        super().__init__(f"no media {media_id} for this client")
        self.media_id = media_id


class MediaInUse(Exception):
    """Posts not yet finished, or proposals still open, still need the file."""

    def __init__(
        self, media_id: UUID, posts: list[UUID], proposals: list[UUID] | None = None
    ) -> None:
        proposals = proposals or []
        super().__init__(
            f"media {media_id} is still needed by {len(posts)} post(s) "
            f"and {len(proposals)} open proposal(s)"
        )
        self.media_id = media_id
        self.posts = posts
        self.proposals = proposals


class MediaLibrary:
    """Listing and deleting one client's videos (the service layer of ``/api/v1/media``)."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        reader: async_sessionmaker[AsyncSession] | None = None,
        media_dir: Path,
        quota_bytes: int,
    ) -> None:
        self._factory = factory
        self._reader = reader or factory
        self._media_dir = media_dir
        self._quota_bytes = quota_bytes

    async def usage(self, *, client_id: UUID) -> MediaUsage:
        """Bytes the client uses (stored and uploading) and its quota."""
        async with self._reader() as session:
            used = await used_bytes(session, client_id)
        return MediaUsage(used_bytes=used, quota_bytes=self._quota_bytes)

    async def page(self, *, client_id: UUID, limit: int, cursor: str | None) -> MediaPage:
        """The client's videos, newest first, ``limit`` at a time, with its usage.

        Raises a 422 problem naming ``cursor`` for a cursor this API did not give.
        """
        query = newest_first(
            select(Media).where(Media.client_id == client_id),
            created_at=Media.created_at,
            id_=Media.id,
            cursor=cursor,
            limit=limit,
        )
        async with self._reader() as session:
            rows, next_cursor = cut_page(list((await session.scalars(query)).all()), limit)
            ids = [m.id for m in rows]
            posts, needed = await _posts_of(session, client_id, ids)
            waiting = await open_proposals_naming(session, client_id, ids)
            used = await used_bytes(session, client_id)
        return MediaPage(
            items=[_item(m, posts[m.id], needed[m.id], waiting[m.id]) for m in rows],
            next_cursor=next_cursor,
            used_bytes=used,
            quota_bytes=self._quota_bytes,
        )

    async def get(self, *, client_id: UUID, media_id: UUID) -> MediaItem:
        """One of the client's files with its posts; :class:`MediaNotFound` otherwise."""
        async with self._reader() as session:
            media = await session.scalar(
                select(Media).where(Media.id == media_id, Media.client_id == client_id)
            )
            if media is None:
                raise MediaNotFound(media_id)
            posts, needed = await _posts_of(session, client_id, [media_id])
            waiting = await open_proposals_naming(session, client_id, [media_id])
        return _item(media, posts[media_id], needed[media_id], waiting[media_id])

    async def thumbnail(self, *, client_id: UUID, media_id: UUID) -> Path:
        """The file's small JPEG (made on first call, then kept); :class:`MediaNotFound`
        when the client has no such file, :class:`~cachalot_queue.probe.Unusable` when
        no picture can be made of it."""
        async with self._reader() as session:
            media = await session.scalar(
                select(Media).where(Media.id == media_id, Media.client_id == client_id)
            )
        if media is None:
            raise MediaNotFound(media_id)
        out = thumbnail_path(self._media_dir, media_id)
        if not out.is_file():
            source = self._media_dir / Path(media.path).name
            kind = cast(MediaType, media.content_type)  # one of these, as sniffed when stored
            await asyncio.to_thread(make_thumbnail, source, kind, out)
        return out

    async def delete(self, *, client_id: UUID, media_id: UUID) -> None:
        """Delete the video's row, then its file; its bytes no longer count against the quota.

        Raises :class:`MediaNotFound` when the client has no such video and
        :class:`MediaInUse` (naming the posts and proposals) while a post still needs it
        or a proposal still open (proposed, changes requested) names it: its approval
        would queue a post without its file (issue 13 item 2).
        """
        async with self._factory() as session, session.begin():
            media = await session.scalar(
                select(Media)
                .where(Media.id == media_id, Media.client_id == client_id)
                .with_for_update()
            )
            if media is None:
                raise MediaNotFound(media_id)
            _, needed = await _posts_of(session, client_id, [media_id])
            waiting = await open_proposals_naming(session, client_id, [media_id])
            if needed[media_id] or waiting[media_id]:
                raise MediaInUse(media_id, needed[media_id], waiting[media_id])
            name = media.path
            await session.delete(media)
        # after the commit: a stop before this line leaves the file to the sweep
        removed = await asyncio.to_thread(remove_files, self._media_dir, [name])
        thumbnail_path(self._media_dir, media_id).unlink(missing_ok=True)
        logger.info("client %s deleted media %s (%d file removed)", client_id, media_id, removed)

    async def delete_unused(
        self, *, client_id: UUID, media_ids: list[UUID], uploaded_by: UUID
    ) -> list[UUID]:
        """Delete those of ``media_ids`` that operator ``uploaded_by`` put in the client's
        library (``POST /api/v1/operator/media``) and that no post and no delivery of the
        client names, rows then files; the ids deleted. For the orphan sweep
        (:meth:`sweep_orphans`): the client's own uploads, another operator's, and
        another client's ids are left alone.

        One transaction: the rows are locked (FOR UPDATE; SQLite's writers are serial)
        before the posts and deliveries are read, and a post or a delivery locks the
        rows it names (FOR SHARE) while it is written, so a delivery naming the same
        file at the same moment either commits first and is seen here, or finds the
        row gone and is refused (:meth:`DeliveryService.deliver`)."""
        async with self._factory() as session, session.begin():
            rows = (
                await session.scalars(
                    select(Media)
                    .where(
                        Media.id.in_(media_ids),
                        Media.client_id == client_id,
                        Media.uploaded_by == uploaded_by,
                    )
                    .with_for_update()
                )
            ).all()
            posts, _ = await _posts_of(session, client_id, [m.id for m in rows])
            delivered = await delivered_media(session, client_id) if rows else set()
            unused = [m for m in rows if not posts[m.id] and m.id not in delivered]
            for media in unused:
                await session.delete(media)
        names = [m.path for m in unused]
        removed = await asyncio.to_thread(remove_files, self._media_dir, names)
        for media in unused:
            thumbnail_path(self._media_dir, media.id).unlink(missing_ok=True)
        if unused:
            logger.info(
                "client %s: %d unused media deleted (%d files)", client_id, len(unused), removed
            )
        return [m.id for m in unused]

    async def sweep_orphans(self, *, older_than: datetime) -> int:
        """Delete the files operators uploaded into clients' libraries before ``older_than``
        that no post and no delivery names: uploads of a delivery that was never made (a
        later file's upload failed, or the tab was closed, before ``POST
        /api/v1/operator/deliveries``). Each (client, operator) group goes through
        :meth:`delete_unused`, which checks posts and deliveries again under its lock;
        the client's own uploads are never touched. Returns how many went."""
        async with self._reader() as session:
            rows = (
                await session.execute(
                    select(Media.client_id, Media.uploaded_by, Media.id).where(
                        Media.uploaded_by.is_not(None), Media.created_at <= older_than
                    )
                )
            ).all()
        groups: dict[tuple[UUID, UUID], list[UUID]] = {}
        for client_id, operator_id, media_id in rows:
            if operator_id is not None:
                groups.setdefault((client_id, operator_id), []).append(media_id)
        gone = 0
        for (client_id, operator_id), ids in groups.items():
            gone += len(
                await self.delete_unused(
                    client_id=client_id, media_ids=ids, uploaded_by=operator_id
                )
            )
        return gone


def content_media(content: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, value) of each file a post's or delivery's content names, as raw JSON:
    ``media_id``, ``image_ids[k]``, ``article.cover_media_id`` (values unchecked)."""
    article = content.get("article")
    images = content.get("image_ids")
    cover = article.get("cover_media_id") if isinstance(article, dict) else None
    return [
        ("media_id", content.get("media_id")),
        *((f"image_ids[{k}]", m) for k, m in enumerate(images if isinstance(images, list) else ())),
        ("article.cover_media_id", cover),
    ]


def as_uuid(value: Any) -> UUID | None:
    """``value`` as an id when it is a string of one, else None."""
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def delivered_media(session: AsyncSession, client_id: UUID) -> set[UUID]:
    """The ids of the files the client's deliveries name (any proposal's state)."""
    contents = await session.scalars(
        select(Delivery.content).where(Delivery.client_id == client_id)
    )
    return {u for c in contents for _, m in content_media(c) if (u := as_uuid(m)) is not None}


OPEN_PROPOSAL = ("proposed", "changes_requested")
"""A proposal the client may still approve: its delivery's files are held."""


async def open_proposals_naming(
    session: AsyncSession, client_id: UUID, media_ids: list[UUID]
) -> defaultdict[UUID, list[UUID]]:
    """media id → the client's proposals still open (:data:`OPEN_PROPOSAL`) whose delivery
    names it (as video, image or cover), oldest first."""
    held: defaultdict[UUID, list[UUID]] = defaultdict(list)
    if not media_ids:
        return held
    wanted = set(media_ids)
    rows = await session.execute(
        select(Proposal.id, Delivery.content)
        .join(Delivery, Delivery.id == Proposal.delivery_id)
        .where(Proposal.client_id == client_id, Proposal.status.in_(OPEN_PROPOSAL))
        .order_by(Proposal.created_at, Proposal.id)
    )
    for proposal, content in rows.tuples():
        named = {u for _, m in content_media(content) if (u := as_uuid(m)) in wanted}
        for media_id in named:
            held[media_id].append(proposal)
    return held


def _item(media: Media, posts: list[UUID], needed: list[UUID], proposals: list[UUID]) -> MediaItem:
    return MediaItem.model_validate(
        {
            **MediaExport.model_validate(media, from_attributes=True).model_dump(),
            "posts": posts,
            "needed_by": needed,
            "proposals_waiting": proposals,
        }
    )


async def _posts_of(
    session: AsyncSession, client_id: UUID, media_ids: list[UUID]
) -> tuple[defaultdict[UUID, list[UUID]], defaultdict[UUID, list[UUID]]]:
    """media id → its posts (oldest first), and → those of them still needing the file."""
    posts: defaultdict[UUID, list[UUID]] = defaultdict(list)
    needed: defaultdict[UUID, list[UUID]] = defaultdict(list)
    if not media_ids:
        return posts, needed
    rows = await session.execute(
        select(PostMedia.media_id, Post.id)
        .join(Post, Post.id == PostMedia.post_id)
        .where(Post.client_id == client_id, PostMedia.media_id.in_(media_ids))
        .order_by(Post.created_at, Post.id)
    )
    pairs = list(dict.fromkeys(rows.tuples()))  # a file used twice in one post counts once
    busy = (
        set(
            (
                await session.scalars(
                    select(Target.post_id)
                    .where(
                        Target.post_id.in_([p for _, p in pairs]),
                        Target.status.in_(NEEDS_MEDIA),
                    )
                    .distinct()
                )
            ).all()
        )
        if pairs
        else set()
    )
    for media_id, post_id in pairs:
        posts[media_id].append(post_id)
        if post_id in busy:
            needed[media_id].append(post_id)
    return posts, needed
