"""Small JPEG pictures of stored media for the dashboard's media library (PyAV).

A video's poster frame is the first frame at or after :data:`POSTER_AT_S`
(or the first frame of a shorter video); an image's is the image itself.
Either is scaled to fit :data:`MAX_SIDE_PX` on its longer side (never
enlarged) and encoded with FFmpeg's MJPEG encoder, so no other imaging
library is needed: the same PyAV that probes every upload
(:mod:`cachalot_queue.probe`, which vouched for the file when it was stored).

Made on first request and kept beside the store in ``.thumbs/<id>.jpg``;
deleting the media deletes it (:meth:`MediaLibrary.delete`).
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Final
from uuid import UUID

import av
import av.error

from cachalot_queue.probe import Unusable
from cachalot_queue.sniff import MediaType

THUMBS: Final = ".thumbs"
MAX_SIDE_PX: Final = 320
POSTER_AT_S: Final = 1.0
MAX_FRAMES: Final = 240
"""Frames decoded looking for the poster frame (8 s at 30 fps): a bound, not a target."""
_DEMUXERS: Final[dict[MediaType, str]] = {
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/webm": "matroska",
    "image/jpeg": "jpeg_pipe",
    "image/png": "png_pipe",
}
_LIMITS: Final = {"max_pixels": "36000000"}


def thumbnail_path(media_dir: Path, media_id: UUID) -> Path:
    return media_dir / THUMBS / f"{media_id}.jpg"


def make_thumbnail(source: Path, content_type: MediaType, out: Path) -> None:
    """Write ``out`` (a JPEG at most :data:`MAX_SIDE_PX` a side) from ``source``.

    Blocking (decoding): run it in a thread. Written to a temporary name and
    renamed, so a reader never sees half a picture. Raises :class:`Unusable`
    when no frame decodes.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(source), "r", format=_DEMUXERS[content_type], options=_LIMITS) as box:
            stream = box.streams.video[0]
            stream.codec_context.thread_count = 1
            frame = _poster(box, stream)
            data = _jpeg(frame)
    except (av.error.FFmpegError, IndexError) as error:
        raise Unusable("no picture could be made of it") from error
    partial = out.with_name(out.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, out)


def _poster(box: av.container.InputContainer, stream: av.video.stream.VideoStream) -> av.VideoFrame:
    first: av.VideoFrame | None = None
    for count, frame in enumerate(box.decode(stream)):
        if first is None:
            first = frame
        if frame.time is None or frame.time >= POSTER_AT_S or count >= MAX_FRAMES:
            return frame
    if first is None:
        raise Unusable("no frame could be decoded")
    return first


def _jpeg(frame: av.VideoFrame) -> bytes:
    scale = min(1.0, MAX_SIDE_PX / max(frame.width, frame.height))
    # even sides: 4:2:0 chroma needs them
    width = max(2, int(frame.width * scale) // 2 * 2)
    height = max(2, int(frame.height * scale) // 2 * 2)
    small = frame.reformat(width=width, height=height, format="yuvj420p")
    codec = av.CodecContext.create("mjpeg", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuvj420p"
    codec.time_base = Fraction(1, 25)
    return b"".join(bytes(p) for p in [*codec.encode(small), *codec.encode(None)])
