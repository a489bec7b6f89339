"""A client's right to erasure, as the queue keeps it.

``DELETE /api/v1/me`` is answered by auth, which deletes the client and emits
``accounts.v1`` type ``deleted`` for each of its accounts (the only cause of
that type). On the first of them the queue erases everything it holds of the
client: the media files (videos and images; files first, then their rows)
with their thumbnails and its unfinished resumable uploads,
posts with their ``post_media`` rows, targets, the deliveries operators made to it
with their proposals, its audit trail, and every outbox row about it (commands, status
events, proposal answers), sent or still waiting. The account
projections stay, without anything of the person (display name, platform user id,
VK communities: only ids, platform, status and time are left), so that an older event
arriving late is still recognised as stale and changes nothing.

Files go first: if the process dies half-way, the event is redelivered (it is
acknowledged only after the transaction commits) and the erasure runs again;
a file already gone is fine, and no row ever points at a file that a finished
erasure left behind.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from uuid import UUID

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cachalot_common.db import checkpoint_after_commit
from cachalot_queue.media_store import remove_client_uploads, remove_files
from cachalot_queue.tables import (
    Account,
    AuditEntry,
    Delivery,
    Media,
    MediaReservation,
    OutboxMessage,
    Post,
    PostMedia,
    Proposal,
    Target,
)
from cachalot_queue.thumbnails import THUMBS

logger = logging.getLogger(__name__)


async def media_files(session: AsyncSession, client_id: UUID) -> list[str]:
    """The store's file names of the client's videos."""
    names = await session.scalars(select(Media.path).where(Media.client_id == client_id))
    return list(names.all())


async def erase_rows(session: AsyncSession, client_id: UUID) -> int:
    """Delete the client's posts, targets, videos and outbox messages (sent ones too: they
    are kept an hour for a broker that lost them, :class:`~cachalot_common.outbox.TableSource`
    ``keep_sent``, and name the client); the number of posts deleted."""
    post_ids = list(
        (await session.scalars(select(Post.id).where(Post.client_id == client_id))).all()
    )
    account_ids = list(
        (await session.scalars(select(Account.id).where(Account.client_id == client_id))).all()
    )
    # every outbox row of it, sent or not: publish commands keyed by account, status
    # events by post, proposal answers by client; any other that names it in its payload
    keys = [str(i) for i in (*post_ids, *account_ids, client_id)]
    await session.execute(
        delete(OutboxMessage).where(
            or_(OutboxMessage.key.in_(keys), OutboxMessage.payload.contains(str(client_id)))
        )
    )
    await session.execute(delete(Target).where(Target.client_id == client_id))
    # deliveries made to it (their proposals go with them) and every audit entry of it
    await session.execute(delete(AuditEntry).where(AuditEntry.client_id == client_id))
    await session.execute(delete(Proposal).where(Proposal.client_id == client_id))
    await session.execute(delete(Delivery).where(Delivery.client_id == client_id))
    owned = select(Post.id).where(Post.client_id == client_id).scalar_subquery()
    await session.execute(delete(PostMedia).where(PostMedia.post_id.in_(owned)))
    await session.execute(delete(Post).where(Post.client_id == client_id))
    await session.execute(delete(Media).where(Media.client_id == client_id))
    await session.execute(
        update(Account)
        .where(Account.client_id == client_id)
        .values(display_name=None, platform_user_id=None, communities=None)
    )
    return len(post_ids)


async def erase_client(session: AsyncSession, client_id: UUID, media_dir: Path) -> None:
    """Erase the client in ``session``'s transaction, after removing its video files,
    their thumbnails and its unfinished resumable uploads (with their quota holds)."""
    checkpoint_after_commit(session)  # no copy of the rows left in SQLite's WAL
    names = await media_files(session, client_id)
    removed = await asyncio.to_thread(remove_files, media_dir, names)
    thumbs = [f"{name.partition('.')[0]}.jpg" for name in names]
    await asyncio.to_thread(remove_files, media_dir / THUMBS, thumbs)
    unfinished = await asyncio.to_thread(remove_client_uploads, media_dir, client_id)
    if unfinished:
        await session.execute(delete(MediaReservation).where(MediaReservation.id.in_(unfinished)))
    posts = await erase_rows(session, client_id)
    logger.info(
        "client %s erased: %d posts, %d videos (%d files removed)",
        client_id,
        posts,
        len(names),
        removed,
    )
