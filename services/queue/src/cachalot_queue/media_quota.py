"""What one client may keep in the media store, and what the disk can still take.

Issue 8, item 8: five 512 MiB uploads in a row were accepted for one client.
Each upload now holds its bytes in ``media_reservations`` before they are
written: the size it declared (``Content-Length``) before the body is read, or,
for a chunked body, more as the bytes arrive (in steps of ``STEP_BYTES``). A
hold is granted only while stored media + every other hold of the client + this
one fit the quota, checked in one transaction per client at a time (SQLite's
``BEGIN IMMEDIATE``, a PostgreSQL advisory lock per client), so two parallel
uploads cannot both slip past it. The stored ``media`` row replaces the hold in
one transaction; a failed upload drops it, whatever the failure (cancellation too).

The volume must keep ``disk_reserve_bytes`` free after each upload (checked with
``shutil.disk_usage`` before the body is read and at each step), so uploads
cannot fill the disk the database and the publishers share.

A resumable upload created but sent no byte within ``partial_grace_s`` (the page lost the
creation's answer and made another, or went away) goes with its hold; one with bytes keeps
them until it expires (a day).

A queue killed mid-upload leaves a ``.incoming/<id>.part`` file and a hold:
:meth:`MediaQuota.sweep` removes part files untouched for ``partial_grace_s``
that no upload of this process is writing, and holds without a part file, at
start and then every ``partial_grace_s``. The same sweep removes stored videos
whose row is gone: a client's delete removes the file only after its
transaction commits, so a queue stopped in between leaves the file to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final
from uuid import UUID

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_queue.media_store import (
    INCOMING,
    PART_SUFFIX,
    remove_upload,
    stored_id,
    unfinished_uploads,
)
from cachalot_queue.tables import Media, MediaReservation

logger = logging.getLogger(__name__)

STEP_BYTES: Final = 64 * 1024 * 1024
"""How much more a chunked upload holds each time its bytes pass what it holds."""


class QuotaExceeded(Exception):
    """The client's stored media and uploads in progress would pass the quota."""

    def __init__(self, *, used_bytes: int, quota_bytes: int, upload_bytes: int) -> None:
        super().__init__(f"{used_bytes} + {upload_bytes} bytes > quota {quota_bytes}")
        self.used_bytes = used_bytes
        self.quota_bytes = quota_bytes
        self.upload_bytes = upload_bytes


class DiskFull(Exception):
    """Keeping the upload would leave less than the reserve free on the media volume."""

    def __init__(self, *, free_bytes: int, reserve_bytes: int, upload_bytes: int) -> None:
        super().__init__(f"{free_bytes} free - {upload_bytes} bytes < reserve {reserve_bytes}")
        self.free_bytes = free_bytes
        self.reserve_bytes = reserve_bytes
        self.upload_bytes = upload_bytes


async def used_bytes(session: AsyncSession, client_id: UUID, *, besides: UUID | None = None) -> int:
    """Bytes counted against ``client_id``'s quota: stored videos plus uploads in progress.

    ``besides`` leaves out the hold of that upload (the one asking for more).
    """
    stored = await session.scalar(
        select(func.coalesce(func.sum(Media.size), 0)).where(Media.client_id == client_id)
    )
    holds = select(func.coalesce(func.sum(MediaReservation.size), 0)).where(
        MediaReservation.client_id == client_id
    )
    if besides is not None:
        holds = holds.where(MediaReservation.id != besides)
    held = await session.scalar(holds)
    return int(stored or 0) + int(held or 0)


class MediaQuota:
    """Holds, checks and releases the bytes of uploads in progress (one per process)."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        media_dir: Path,
        quota_bytes: int,
        disk_reserve_bytes: int,
        partial_grace_s: float,
        lock_rows: bool,
        clock: Callable[[], datetime],
    ) -> None:
        self._factory = factory
        self._media_dir = media_dir
        self.quota_bytes = quota_bytes
        self.disk_reserve_bytes = disk_reserve_bytes
        self.partial_grace_s = partial_grace_s
        self._lock_rows = lock_rows
        self._clock = clock
        self._live: set[UUID] = set()

    def check_disk(self, upload_bytes: int) -> None:
        """Raise :class:`DiskFull` unless ``upload_bytes`` more leave the reserve free."""
        free = shutil.disk_usage(self._media_dir).free
        if free - upload_bytes < self.disk_reserve_bytes:
            raise DiskFull(
                free_bytes=free, reserve_bytes=self.disk_reserve_bytes, upload_bytes=upload_bytes
            )

    async def hold(self, *, client_id: UUID, media_id: UUID, size: int) -> None:
        """Hold ``size`` bytes (the new total) for upload ``media_id`` of ``client_id``.

        Raises :class:`QuotaExceeded` (holding nothing more) when stored media plus
        the client's other holds plus ``size`` pass the quota.
        """
        self._live.add(media_id)
        async with self._factory() as session, session.begin():
            if self._lock_rows:  # one hold decision per client at a time
                await session.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                    {"key": f"media-quota:{client_id}"},
                )
            used = await used_bytes(session, client_id, besides=media_id)
            if used + size > self.quota_bytes:
                raise QuotaExceeded(
                    used_bytes=used, quota_bytes=self.quota_bytes, upload_bytes=size
                )
            row = await session.get(MediaReservation, media_id)
            if row is None:
                session.add(
                    MediaReservation(
                        id=media_id, client_id=client_id, size=size, created_at=self._clock()
                    )
                )
            else:
                row.size = size

    async def metered(
        self, chunks: AsyncIterator[bytes], *, client_id: UUID, media_id: UUID, held: int
    ) -> AsyncIterator[bytes]:
        """Pass ``chunks`` through, holding more (and checking the disk) before passing ``held``.

        Raises :class:`QuotaExceeded` or :class:`DiskFull` from inside the stream,
        so the store drops the partial file as for any other failure.
        """
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if received > held:
                self.check_disk(received - held + STEP_BYTES)
                try:
                    await self.hold(
                        client_id=client_id, media_id=media_id, size=received + STEP_BYTES
                    )
                    held = received + STEP_BYTES
                except QuotaExceeded:
                    # the step may not fit where the bytes themselves still do
                    await self.hold(client_id=client_id, media_id=media_id, size=received)
                    held = received
            yield chunk

    async def keep(self, media: Media) -> None:
        """Record the stored video and drop its hold, in one transaction."""
        async with self._factory() as session, session.begin():
            session.add(media)
            await session.execute(delete(MediaReservation).where(MediaReservation.id == media.id))
        self._live.discard(media.id)

    def forget(self, media_id: UUID) -> None:
        """This process no longer writes upload ``media_id`` (its hold stays in the table).

        For a resumable upload between its pieces: the sweep keeps its hold
        while its bytes wait in ``.incoming/tus`` and it has not expired.
        """
        self._live.discard(media_id)

    async def release(self, media_id: UUID) -> None:
        """Drop the hold of a failed upload; runs to the end even when cancelled."""
        self._live.discard(media_id)
        await asyncio.shield(self._delete(media_id))

    async def _delete(self, media_id: UUID) -> None:
        async with self._factory() as session, session.begin():
            await session.execute(delete(MediaReservation).where(MediaReservation.id == media_id))

    async def sweep(self) -> int:
        """Remove what dead uploads left: idle part files, then holds without one.

        A part file is left alone while an upload of this process writes it, or
        while it changed less than ``partial_grace_s`` ago (another queue on the
        same volume may be writing it). Returns how many part files went.
        """
        incoming = self._media_dir / INCOMING
        cutoff = time.time() - self.partial_grace_s
        removed = 0
        parts: set[str] = set()
        for part in incoming.glob(f"*{PART_SUFFIX}") if incoming.is_dir() else ():
            stem = part.name.removesuffix(PART_SUFFIX)
            live = any(str(m) == stem for m in self._live)
            with contextlib.suppress(FileNotFoundError):
                if not live and part.stat().st_mtime <= cutoff:
                    part.unlink()
                    removed += 1
                    logger.info("removed the partial upload %s left by a stopped queue", stem)
                    continue
                parts.add(stem)
        stored = {i: p for p in self._stored_files() if (i := stored_id(p.name)) is not None}
        # resumable uploads between pieces keep their holds until they expire
        now = self._clock()
        expired: list[UUID] = []
        for media_id, data, expires in unfinished_uploads(self._media_dir):
            info: os.stat_result | None = None
            if media_id in stored:  # whole and stored by a HEAD after a restart (resumable)
                with contextlib.suppress(OSError):
                    if data.stat().st_mtime <= cutoff:
                        remove_upload(data)
                        logger.info("removed the resumable upload %s: stored", media_id)
                continue
            # a creation no byte followed within the grace: its page lost the answer (it made
            # another) or went; its hold would count against the quota until expiry, a day
            # (fresh12k). A page that comes back gets 404 and starts afresh, losing nothing.
            with contextlib.suppress(OSError):
                info = data.stat()
            empty = info is not None and info.st_size == 0 and info.st_mtime <= cutoff
            ended = expires is not None and expires <= now
            if (ended or empty) and media_id not in self._live:
                with contextlib.suppress(OSError):
                    remove_upload(data)
                    logger.info(
                        "removed the resumable upload %s: %s",
                        media_id,
                        "it expired unfinished" if ended else "no byte came after its creation",
                    )
                expired.append(media_id)
                continue
            parts.add(str(media_id))
        # a stored file whose upload has not recorded its row yet still needs its hold
        parts |= {str(i) for i in stored}
        before = now - timedelta(seconds=self.partial_grace_s)
        async with self._factory() as session, session.begin():
            rows = await session.scalars(
                select(MediaReservation).where(MediaReservation.created_at <= before)
            )
            for row in rows:
                if str(row.id) not in parts and row.id not in self._live:
                    await session.delete(row)
            if expired:  # their uploads are gone for good: no grace to wait
                await session.execute(
                    delete(MediaReservation).where(MediaReservation.id.in_(expired))
                )
        await self._sweep_orphans(stored, cutoff)
        return removed

    def _stored_files(self) -> list[Path]:
        if not self._media_dir.is_dir():
            return []
        return [p for p in self._media_dir.iterdir() if p.is_file()]

    async def _sweep_orphans(self, stored: dict[UUID, Path], cutoff: float) -> None:
        """Remove stored videos whose row is gone (a delete that stopped after its commit).

        A file is left alone while an upload of this process or any queue holds
        its id (it is renamed into place before its row is written), or while it
        changed less than ``partial_grace_s`` ago.
        """
        candidates = [i for i in stored if i not in self._live]
        known: set[UUID] = set()
        async with self._factory() as session:
            for start in range(0, len(candidates), 500):
                batch = candidates[start : start + 500]
                for model in (Media, MediaReservation):
                    found = await session.scalars(select(model.id).where(model.id.in_(batch)))
                    known.update(found.all())
        for media_id in candidates:
            if media_id in known:
                continue
            with contextlib.suppress(FileNotFoundError):
                if stored[media_id].stat().st_mtime <= cutoff:
                    stored[media_id].unlink()
                    logger.info("removed the file of deleted media %s", media_id)

    async def run_sweeper(self) -> None:
        """Sweep every ``partial_grace_s`` (at least every second) until cancelled."""
        while True:
            await asyncio.sleep(max(self.partial_grace_s, 1.0))
            try:
                await self.sweep()
            except Exception:
                logger.exception("sweeping partial uploads failed; trying again later")
