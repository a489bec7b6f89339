"""Streaming a video or image into the media store without holding it in memory.

Bytes go chunk by chunk into ``.incoming/<id>.part`` inside the store (same
file system, so the final rename is atomic), hashed on the way, checked
against the size cap as they arrive (reading stops at the first byte over;
images have their own, smaller cap), sniffed from the first 4 KiB, fsynced,
probed with a media library (:mod:`cachalot_queue.probe`: a video stream and
a decodable frame, the facts the platforms' limits need), and only then
renamed to ``<id>.<ext>``, so a refused file is never visible. A
failed upload leaves nothing behind, whatever ends it (an error, the client
going away, the task being cancelled); what a killed process leaves is swept
at the next start (:mod:`cachalot_queue.media_quota`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Final
from uuid import UUID

from cachalot_queue.probe import MediaKind, Probed, Unusable, probe
from cachalot_queue.sniff import SNIFF_BYTES, MediaType, sniff

INCOMING: Final = ".incoming"
PART_SUFFIX: Final = ".part"
TUS_DIR: Final = "tus"
"""Resumable (tus) uploads: ``.incoming/tus/<client id>/<id>`` and ``<id>.info``."""

EXTENSIONS: Final[dict[MediaType, str]] = {
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
    "image/jpeg": ".jpg",
    "image/png": ".png",
}


class UploadTooLarge(Exception):
    """More bytes than the cap allows (``max_bytes``; ``kind`` is "image" under the image cap)."""

    def __init__(self, max_bytes: int, kind: MediaKind = "video") -> None:
        super().__init__(f"the {kind} is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes
        self.kind = kind


class NotAVideo(Exception):
    """The content is none of the types taken (MP4, MOV, WebM, JPEG, PNG)."""


UnusableMedia = Unusable
"""A file of a type taken that cannot be used (no video stream, undecodable): the reason."""


class PartialLost(Exception):
    """The partial file went while the upload was written (another queue swept it)."""


@dataclass(frozen=True, slots=True)
class StoredMedia:
    id: UUID
    path: str
    size: int
    sha256: str
    content_type: MediaType
    kind: MediaKind
    width: int
    height: int
    duration_sec: float | None
    frame_rate: float | None
    video_codec: str | None
    audio_codec: str | None


async def store_upload(
    chunks: AsyncIterator[bytes],
    *,
    media_dir: Path,
    media_id: UUID,
    max_bytes: int,
    max_image_bytes: int,
) -> StoredMedia:
    """Write ``chunks`` into the store; raise before keeping anything bad.

    Raises :class:`UploadTooLarge` past ``max_bytes`` (``max_image_bytes`` once
    the content is an image), :class:`NotAVideo` for content of a type not
    taken, :class:`UnusableMedia` for a file of a taken type that is no playable
    video or readable image, :class:`PartialLost`, and whatever ``chunks``
    raises (a disconnect, a quota). Whatever is raised, nothing stays stored.
    """
    incoming = media_dir / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    partial = incoming / f"{media_id}{PART_SUFFIX}"
    digest = hashlib.sha256()
    head = bytearray()
    kind: MediaType | None = None
    cap = max_bytes
    size = 0
    try:
        # Chunk-sized writes land in the page cache; only fsync goes to a thread.
        with open(partial, "wb") as out:  # noqa: ASYNC230
            async for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                if kind is None:
                    head += chunk[: SNIFF_BYTES - len(head)]
                    if len(head) >= SNIFF_BYTES:
                        kind = _require_media(bytes(head))
                        cap = _cap(kind, max_bytes, max_image_bytes)
                if size > cap:
                    raise UploadTooLarge(cap, _noun(kind))
                digest.update(chunk)
                out.write(chunk)
            if kind is None:
                kind = _require_media(bytes(head))
                cap = _cap(kind, max_bytes, max_image_bytes)
                if size > cap:
                    raise UploadTooLarge(cap, _noun(kind))
            out.flush()
            await asyncio.to_thread(os.fsync, out.fileno())
        facts = await asyncio.to_thread(probe, partial, kind)
        final = media_dir / stored_name(media_id, kind)
        try:
            os.replace(partial, final)
        except FileNotFoundError as error:
            raise PartialLost("the partial upload was removed while it was written") from error
        await asyncio.to_thread(_fsync_dir, media_dir)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return _stored(media_id, final.name, size, digest.hexdigest(), kind, facts)


def stored_name(media_id: UUID | str, content_type: MediaType) -> str:
    """The store's file name of a media item: ``<id>`` and the extension of its sniffed
    ``content_type`` (:data:`EXTENSIONS`: ``.mp4``, ``.mov``, ``.webm``, ``.jpg``, ``.png``),
    e.g. ``"0f…9c.jpg"`` for an image/jpeg. The one rule for naming a stored file: uploads
    are renamed to it, and whoever looks for a media item's file by its id and content
    type (an export, a test) asks here. Raises ``KeyError`` for a type not taken."""
    return f"{UUID(str(media_id))}{EXTENSIONS[content_type]}"


def stored_id(name: str) -> UUID | None:
    """The media id a stored file's name carries (:func:`stored_name`: ``<id>.mp4``,
    ``<id>.jpg``, …), or None for any other file."""
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


def tus_root(media_dir: Path) -> Path:
    """Where unfinished uploads live: ``<media_dir>/.incoming/tus/<client id>/<id>[.info]``."""
    return media_dir / INCOMING / TUS_DIR


def remove_upload(data: Path) -> None:
    """Delete an upload's bytes and its ``.info`` (whichever are there)."""
    data.unlink(missing_ok=True)
    data.with_name(data.name + ".info").unlink(missing_ok=True)


def unfinished_uploads(media_dir: Path) -> list[tuple[UUID, Path, datetime | None]]:
    """Every tus upload on the volume: (media id, its data file, when it expires)."""
    root = tus_root(media_dir)
    found: list[tuple[UUID, Path, datetime | None]] = []
    if not root.is_dir():
        return found
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        for data in folder.iterdir():
            if not data.is_file() or len(data.name) != 32:
                continue
            try:
                media_id = UUID(hex=data.name)
            except ValueError:
                continue
            found.append((media_id, data, _expires(data)))
    return found


def _expires(data: Path) -> datetime | None:
    """``expires`` of the upload's ``.info`` (RFC 7231 date, as the library writes it)."""
    try:
        info = json.loads(data.with_name(data.name + ".info").read_text())
        return parsedate_to_datetime(str(info["expires"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_client_uploads(media_dir: Path, client_id: UUID) -> list[UUID]:
    """Delete every unfinished resumable upload of ``client_id``; the ids of those removed."""
    folder = media_dir / INCOMING / TUS_DIR / str(client_id)
    removed = [i for i, data, _ in unfinished_uploads(media_dir) if data.parent == folder]
    shutil.rmtree(folder, ignore_errors=True)
    return removed


def _require_media(head: bytes) -> MediaType:
    kind = sniff(head)
    if kind is None:
        raise NotAVideo("the upload is not an MP4, MOV or WebM video, nor a JPEG or PNG image")
    return kind


def _noun(kind: MediaType | None) -> MediaKind:
    return "image" if kind is not None and kind.startswith("image/") else "video"


def _cap(kind: MediaType, max_bytes: int, max_image_bytes: int) -> int:
    return min(max_bytes, max_image_bytes) if kind.startswith("image/") else max_bytes


def _stored(
    media_id: UUID, name: str, size: int, sha256: str, kind: MediaType, facts: Probed
) -> StoredMedia:
    return StoredMedia(
        id=media_id,
        path=name,
        size=size,
        sha256=sha256,
        content_type=kind,
        kind=facts.kind,
        width=facts.width,
        height=facts.height,
        duration_sec=facts.duration_sec,
        frame_rate=facts.frame_rate,
        video_codec=facts.video_codec,
        audio_codec=facts.audio_codec,
    )


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
