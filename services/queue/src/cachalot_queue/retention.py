"""Media retention: the files of finished posts are kept for a while, then deleted.

The privacy policy promises that media is kept only as long as the client
wants it (issue 11 item 8): the client deletes a file at any time
(``DELETE /api/v1/media/{id}``, once no post needs it), and a file every one of
whose posts has been finished for ``CACHALOT_MEDIA_RETENTION_DAYS`` is deleted
by itself. "Finished" is a target out of the states that read the file
(:data:`cachalot_queue.states.NEEDS_MEDIA`: published, cancelled or failed)
and unchanged since. A file no post uses yet (uploaded for later) is the
client's to keep. Deleting a failed post's file ends its retries: a retry
then answers 409 "video deleted", as after a deletion by hand.

The same job deletes the audit trail's entries (:mod:`cachalot_queue.audit`)
older than ``CACHALOT_AUDIT_RETENTION_DAYS`` (issue 13 item 2), except those a
post or proposal still in progress needs to show who asked for it: an entry of
a post some target of which is not finished, or changed within the period, and
an entry of a delivery one of whose proposals changed within the period or
whose approved post is such a post. The client's erasure deletes them all at
once (:mod:`cachalot_queue.erase`).

And it sweeps **orphan operator uploads**: a file an operator uploaded into a
client's library (``uploaded_by``) more than ``CACHALOT_OPERATOR_UPLOAD_ORPHAN_HOURS``
(24) ago that no post and no delivery names. The operator page uploads a delivery's
files one by one before it delivers; when a later upload fails or the tab is closed,
the delivery is never made and the files would hold the client's quota for nothing
(:meth:`cachalot_queue.media_library.MediaLibrary.sweep_orphans`). A refused delivery's
files stay until then: the operator corrects the delivery without uploading them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import delete, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_queue.media_library import MediaLibrary
from cachalot_queue.media_store import remove_files
from cachalot_queue.states import NEEDS_MEDIA
from cachalot_queue.tables import AuditEntry, Media, Post, PostMedia, Proposal, Target

logger = logging.getLogger(__name__)

BATCH = 200
"""Files deleted per transaction."""

PRIVACY_PATH = "/api/v1/privacy"
"""Public (no session): what the privacy page (web/privacy.html) states from settings."""


class PrivacyFacts(BaseModel):
    media_retention_days: float | None = Field(
        description="Days a file is kept once every post using it has finished "
        "(CACHALOT_MEDIA_RETENTION_DAYS); null: kept until the client deletes it."
    )


def privacy_router(days: float | None) -> APIRouter:
    """``GET`` :data:`PRIVACY_PATH`: the configured retention, so the policy page never
    states a figure the service does not apply. Public, as the page is; cached 5 minutes."""
    router = APIRouter(tags=["privacy"])

    @router.get(PRIVACY_PATH, response_model=PrivacyFacts)
    async def privacy_facts(response: Response) -> PrivacyFacts:
        """How long uploaded media is kept after its posts finished (the policy's promise)."""
        response.headers["Cache-Control"] = "public, max-age=300"
        return PrivacyFacts(media_retention_days=days)

    return router


class MediaRetention:
    """Deletes the files of posts finished more than ``days`` ago, audit entries older
    than ``audit_days`` (``None``: never, for either), and operators' uploads no post or
    delivery names after ``orphan_hours`` (``None`` or no ``library``: never)."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        media_dir: Path,
        days: float | None,
        clock: Callable[[], datetime],
        every_s: float = 3600.0,
        audit_days: float | None = None,
        library: MediaLibrary | None = None,
        orphan_hours: float | None = None,
    ) -> None:
        self._factory = factory
        self._media_dir = media_dir
        self.days = days
        self.audit_days = audit_days
        self._clock = clock
        self._every_s = every_s
        self._library = library
        self.orphan_hours = orphan_hours

    async def sweep_orphans(self) -> int:
        """Delete operators' uploads older than ``orphan_hours`` that nothing names (see the
        module's text); returns how many went."""
        if self._library is None or self.orphan_hours is None:
            return 0
        cutoff = self._clock() - timedelta(hours=self.orphan_hours)
        gone = await self._library.sweep_orphans(older_than=cutoff)
        if gone:
            logger.info("%d orphan operator upload(s) from before %s deleted", gone, cutoff)
        return gone

    async def expire_audit(self) -> int:
        """Delete the audit entries older than ``audit_days`` that no unfinished post or
        recently changed proposal needs (see the module's text); returns how many went."""
        if self.audit_days is None:
            return 0
        cutoff = self._clock() - timedelta(days=self.audit_days)
        open_posts = select(Target.post_id).where(
            or_(Target.status.in_(NEEDS_MEDIA), Target.updated_at > cutoff)
        )
        held_deliveries = select(Proposal.delivery_id).where(
            or_(Proposal.updated_at > cutoff, Proposal.post_id.in_(open_posts))
        )
        async with self._factory() as session, session.begin():
            result = await session.execute(
                delete(AuditEntry)
                .where(
                    AuditEntry.at <= cutoff,
                    or_(AuditEntry.post_id.is_(None), AuditEntry.post_id.not_in(open_posts)),
                    or_(
                        AuditEntry.delivery_id.is_(None),
                        AuditEntry.delivery_id.not_in(held_deliveries),
                    ),
                )
                .execution_options(synchronize_session=False)
            )
        gone = int(getattr(result, "rowcount", 0) or 0)
        if gone:
            logger.info(
                "audit retention deleted %d entr%s older than %s",
                gone,
                "y" if gone == 1 else "ies",
                cutoff.isoformat(),
            )
        return gone

    async def expire(self) -> int:
        """Delete every file whose posts all finished ``days`` ago or earlier (rows first,
        then the files, in batches); returns how many media rows went."""
        if self.days is None:
            return 0
        cutoff = self._clock() - timedelta(days=self.days)
        gone = 0
        while True:
            async with self._factory() as session, session.begin():
                uses = union_all(
                    select(
                        PostMedia.media_id.label("media_id"), PostMedia.post_id.label("post_id")
                    ),
                    select(Post.media_id.label("media_id"), Post.id.label("post_id")).where(
                        Post.media_id.is_not(None)
                    ),
                ).subquery()
                open_posts = select(Target.post_id).where(
                    or_(Target.status.in_(NEEDS_MEDIA), Target.updated_at > cutoff)
                )
                held = select(uses.c.media_id).where(uses.c.post_id.in_(open_posts))
                rows = (
                    await session.scalars(
                        select(Media)
                        .where(
                            Media.id.in_(select(uses.c.media_id)),
                            Media.id.not_in(held),
                            Media.created_at <= cutoff,
                        )
                        .limit(BATCH)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                names = [m.path for m in rows]
                for media in rows:
                    await session.delete(media)
            if not rows:
                return gone
            gone += len(rows)
            # after the commit: a stop before this line leaves the files to the next run
            await asyncio.to_thread(remove_files, self._media_dir, names)
            logger.info(
                "media retention deleted %d file(s) of posts finished before %s",
                len(rows),
                cutoff.isoformat(),
            )

    async def run(self) -> None:
        """Expire files and audit entries and sweep orphan uploads now, then every
        ``every_s`` seconds, until cancelled."""
        while True:
            try:
                await self.expire()
            except Exception:
                logger.exception("media retention failed; trying again later")
            try:
                await self.expire_audit()
            except Exception:
                logger.exception("audit retention failed; trying again later")
            try:
                await self.sweep_orphans()
            except Exception:
                logger.exception("the orphan upload sweep failed; trying again later")
            await asyncio.sleep(self._every_s)
