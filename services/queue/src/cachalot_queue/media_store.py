"""Streaming a video into the media store without holding it in memory.

Bytes go chunk by chunk into ``.incoming/<id>.part`` inside the store (same
file system, so the final rename is atomic), hashed on the way, checked
against the size cap as they arrive (reading stops at the first byte over),
sniffed from the first 4 KiB, fsynced, then renamed to ``<id>.<ext>``. A
failed upload leaves nothing behind, whatever ends it (an error, the client
going away, the task being cancelled); what a killed process leaves is swept
at the next start (:mod:`cachalot_queue.media_quota`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from uuid import UUID

from cachalot_queue.sniff import SNIFF_BYTES, VideoType, mp4_duration, sniff

INCOMING: Final = ".incoming"
PART_SUFFIX: Final = ".part"

EXTENSIONS: Final[dict[VideoType, str]] = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}


class UploadTooLarge(Exception):
    """More bytes than the cap allows."""


class NotAVideo(Exception):
    """The content is not MP4, MOV or WebM."""


class PartialLost(Exception):
    """The partial file went while the upload was written (another queue swept it)."""


@dataclass(frozen=True, slots=True)
class StoredMedia:
    id: UUID
    path: str
    size: int
    sha256: str
    content_type: VideoType
    duration_sec: float | None


async def store_upload(
    chunks: AsyncIterator[bytes], *, media_dir: Path, media_id: UUID, max_bytes: int
) -> StoredMedia:
    """Write ``chunks`` into the store; raise before keeping anything bad.

    Raises :class:`UploadTooLarge` past ``max_bytes``, :class:`NotAVideo`,
    :class:`PartialLost`, and whatever ``chunks`` raises (a disconnect, a quota).
    """
    incoming = media_dir / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    partial = incoming / f"{media_id}{PART_SUFFIX}"
    digest = hashlib.sha256()
    head = bytearray()
    kind: VideoType | None = None
    size = 0
    try:
        # Chunk-sized writes land in the page cache; only fsync goes to a thread.
        with open(partial, "wb") as out:  # noqa: ASYNC230
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge(f"the video is larger than {max_bytes} bytes")
                if kind is None:
                    head += chunk[: SNIFF_BYTES - len(head)]
                    if len(head) >= SNIFF_BYTES:
                        kind = _require_video(bytes(head))
                digest.update(chunk)
                out.write(chunk)
            if kind is None:
                kind = _require_video(bytes(head))
            out.flush()
            await asyncio.to_thread(os.fsync, out.fileno())
        final = media_dir / f"{media_id}{EXTENSIONS[kind]}"
        try:
            os.replace(partial, final)
        except FileNotFoundError as error:
            raise PartialLost("the partial upload was removed while it was written") from error
        await asyncio.to_thread(_fsync_dir, media_dir)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    duration = None
    if kind in {"video/mp4", "video/quicktime"}:
        duration = await asyncio.to_thread(_duration, final, size)
    return StoredMedia(
        id=media_id,
        path=final.name,
        size=size,
        sha256=digest.hexdigest(),
        content_type=kind,
        duration_sec=duration,
    )


def stored_id(name: str) -> UUID | None:
    """The media id a stored file's name carries (``<id>.mp4``), or None for any other file."""
    stem, dot, ext = name.partition(".")
    if not dot or f".{ext}" not in EXTENSIONS.values():
        return None
    try:
        return UUID(stem)
    except ValueError:
        return None


def remove_files(media_dir: Path, names: list[str]) -> int:
    """Delete the named files from the media store; how many were there."""
    removed = 0
    for name in names:
        path = media_dir / Path(name).name  # a bare name, never a path out of the store
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


def _require_video(head: bytes) -> VideoType:
    kind = sniff(head)
    if kind is None:
        raise NotAVideo("the upload is not an MP4, MOV or WebM video")
    return kind


def _duration(path: Path, size: int) -> float | None:
    with open(path, "rb") as file:
        return mp4_duration(file, size)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
