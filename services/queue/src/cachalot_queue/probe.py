"""What a stored upload holds, read with FFmpeg's demuxers and decoders (PyAV).

The sniffer (:mod:`cachalot_queue.sniff`) names the container from the first
bytes; this module opens the complete file with *that* demuxer only (never
FFmpeg's format guessing, so a playlist or another exotic format cannot be
slipped in) and reads the facts the platforms' limits are checked against:

- a video needs a video stream (cover art attached to an audio file does not
  count) whose first frame decodes; its codec, width and height (pixels),
  average frame rate (frames per second), duration (seconds, the video
  stream's own, or else the container's; a stream of one frame or far shorter
  than the file is refused) and the audio codec, if there is an audio stream;
- an image (JPEG, PNG) needs one picture that decodes completely, without an
  error FFmpeg would conceal (a JPEG cut short decodes as grey rows otherwise);
  its width and height.

Only the first frame is decoded: enough to know the stream is what it says,
cheap for a 4 GB file. Every packet of the video stream is then demuxed (read,
not decoded): a file cut short (an MP4 with its index first, ``+faststart``,
whose data stops early) still states its full duration and decodes its first
frame, but its packets end where the data does; one whose video packets end
more than :data:`MISSING_TOLERANCE_S` before the stated duration is refused
naming both times (issue 11, fix11b). No picture over :data:`MAX_PIXELS` is ever decoded
(FFmpeg's ``max_pixels`` on the demuxer's probing and on our decoder), and an
image's size is read from its own header (PNG ``IHDR``, JPEG ``SOFn``) before
FFmpeg sees it, so a small file that declares a huge picture is refused
with its size named and without allocating it.

:class:`Unusable` carries a reason a person can act on ("the file has no
video stream"); the API answers it with 422 naming ``file``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final, Literal

import av
import av.container
import av.error
import av.stream

from cachalot_queue.sniff import MediaType

MAX_SIDE_PX: Final = 16384
"""Refuse larger pictures before decoding (no platform takes more than 4096 px a side)."""
MAX_PIXELS: Final = 36_000_000
"""Refuse pictures of more pixels before decoding (8K video is 33.2 million; 4 bytes each)."""
FFMPEG_PADDING_PX: Final = 64
"""FFmpeg checks ``max_pixels`` against the picture it allocates, whose sides its decoders
pad up to a multiple of as much as 64 px (``avcodec_align_dimensions2``): handed
:data:`MAX_PIXELS` itself, it refused 6000×6000 (36.0 million, allowed) as undecodable."""
_LIMITS: Final = {
    "max_pixels": str(
        MAX_PIXELS + FFMPEG_PADDING_PX * 2 * MAX_SIDE_PX + FFMPEG_PADDING_PX**2
    )  # our own limit is checked on the stated size first (:func:`_refuse_size`)
}
MAX_PACKETS: Final = 5000
"""Packets (of every stream) read looking for the first frame: a file that declares a video
stream but carries none is not read to its end (demuxing goes in time order, so a real video's
first frame comes within its first few packets)."""

MediaKind = Literal["video", "image"]

_DEMUXERS: Final[dict[MediaType, str]] = {
    "video/mp4": "mov",
    "video/quicktime": "mov",
    "video/webm": "matroska",
    "image/jpeg": "jpeg_pipe",
    "image/png": "png_pipe",
}
_WHOLE_PICTURE: Final = {"err_detect": "explode"}
"""An image's decoder stops at its first error: FFmpeg otherwise conceals a cut JPEG (grey
rows below what arrived) and returns a frame of the declared size."""
_IMAGE_CODECS: Final[dict[MediaType, str]] = {"image/jpeg": "mjpeg", "image/png": "png"}
_JPEG_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC


UnusableCode = Literal[
    "damaged",
    "no_video_stream",
    "still_picture",
    "mostly_sound",
    "cut_short",
    "no_size",
    "too_large",
]
"""Why a file cannot be used, for a page to word in its own language: ``damaged`` (unreadable,
no stream, no frame decodes), ``no_video_stream`` (sound only), ``still_picture`` (one frame),
``mostly_sound`` (the picture stops long before the file), ``cut_short`` (its data stops
before its stated end), ``no_size`` (no picture size stated), ``too_large`` (over
:data:`MAX_SIDE_PX` on a side or :data:`MAX_PIXELS` in all)."""


class Unusable(Exception):
    """The file is of a type we take but cannot be used: ``reason`` says why, for people
    (English, with the file's own facts), ``code`` the same for a page to word
    (:data:`UnusableCode`)."""

    def __init__(self, reason: str, code: UnusableCode = "damaged") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code: UnusableCode = code


@dataclass(frozen=True, slots=True)
class Probed:
    """The facts of one stored file (units in the names; pixels for sizes)."""

    kind: MediaKind
    width: int
    height: int
    duration_sec: float | None = None
    frame_rate: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None


def probe(path: Path, content_type: MediaType) -> Probed:
    """Open ``path`` as ``content_type`` (what :func:`~cachalot_queue.sniff.sniff` said) and
    read its facts. Blocking (file reads and decoding): run it in a thread.

    Raises :class:`Unusable` for a file without a video stream, without a
    decodable first frame or picture, or with a frame larger than
    :data:`MAX_SIDE_PX` on a side.
    """
    noun = "image" if content_type in _IMAGE_CODECS else "video"
    demuxer = _DEMUXERS[content_type]
    try:
        with open(path, "rb") as file:
            if noun == "image":
                _refuse_size(*_header_size(file, content_type), "image")
                file.seek(0)
            with av.open(file, "r", format=demuxer, options=_LIMITS) as box:
                return _image(box, content_type) if noun == "image" else _video(box)
    except av.error.FFmpegError as error:
        raise Unusable(
            f"the {noun} is damaged or unreadable ({_plain(error)}); upload the file again"
        ) from error


def _video(box: av.container.InputContainer) -> Probed:
    streams = [
        s for s in box.streams.video if not s.disposition & av.stream.Disposition.attached_pic
    ]
    if not streams:
        if not box.streams.audio:  # nothing at all: the container's index is broken
            raise Unusable(
                "the video is damaged or unreadable: its container lists no streams at all; "
                "upload the file again"
            )
        raise Unusable(
            "the file has no video stream (an audio-only file is not a video)", "no_video_stream"
        )
    video = streams[0]
    width, height = video.codec_context.width, video.codec_context.height
    _refuse_size(width, height, "video")
    frame_rate = video.average_rate or video.guessed_rate
    duration = _video_duration(box, video)
    _first_frame(box, video, "video")
    if duration is not None:
        _refuse_cut_short(box, video, duration)
    audio = box.streams.audio[0].codec_context.name if box.streams.audio else None
    return Probed(
        kind="video",
        width=width,
        height=height,
        duration_sec=round(duration, 3) if duration is not None else None,
        frame_rate=round(float(frame_rate), 3) if frame_rate else None,
        video_codec=video.codec_context.name,
        audio_codec=audio,
    )


SHORTEST_SHARE: Final = 0.5
"""A video stream must last at least this share of the file: the rest would be sound over
no picture (a platform shows a still frame or refuses it)."""


def _video_duration(
    box: av.container.InputContainer, video: av.video.stream.VideoStream
) -> float | None:
    """The VIDEO stream's duration (seconds), not the container's: a 20 s sound track with
    one frame of picture is a container of 20 s and a video of 0.04 s.

    Raises :class:`Unusable` for a video stream of a single frame, or one lasting less than
    :data:`SHORTEST_SHARE` of the container, naming both durations. The container's
    duration stands in only when the stream does not say its own.
    """
    whole = box.duration / av.time_base if box.duration and box.duration > 0 else None
    if video.frames == 1:
        raise Unusable(
            "the video stream is a single frame"
            + (f" in a file of {whole:.1f} s" if whole else "")
            + " (a still picture over sound is not a video)",
            "still_picture",
        )
    own = float(video.duration * video.time_base) if video.duration and video.time_base else None
    if own is None:
        return whole
    if whole is not None and own < whole * SHORTEST_SHARE:
        raise Unusable(
            f"the video stream lasts {own:.2f} s of the file's {whole:.1f} s "
            "(the rest is sound without picture)",
            "mostly_sound",
        )
    return own


MISSING_TOLERANCE_S: Final = 0.5
"""How much earlier than the stated duration the video's packets may end (rounding of the
last frame's duration, an edit list's offset) before the file counts as cut short."""


def _refuse_cut_short(
    box: av.container.InputContainer, video: av.video.stream.VideoStream, duration_s: float
) -> None:
    """Demux every packet of ``video`` (no decoding) and raise :class:`Unusable` when its data
    ends more than :data:`MISSING_TOLERANCE_S` before ``duration_s`` (seconds): the file was
    cut short (an interrupted copy or upload) though its index states the whole length."""
    box.seek(0)
    start: float | None = None
    end = 0.0
    try:
        for packet in box.demux(video):
            if packet.size == 0 or packet.is_corrupt or packet.pts is None:
                continue  # the flush packet; a sample whose bytes are not all there
            begin = float(packet.pts * packet.time_base)
            start = begin if start is None else min(start, begin)
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    except av.error.FFmpegError as error:
        raise Unusable(
            f"the video is cut short or damaged: its data stops being readable ({_plain(error)})"
            "; upload the whole file again",
            "cut_short",
        ) from error
    present = end - (start or 0.0)
    if present < duration_s - MISSING_TOLERANCE_S:
        raise Unusable(
            f"the video is cut short: its file holds {present:.1f} s of the {duration_s:.1f} s "
            "it states; upload the whole file again",
            "cut_short",
        )


def _image(box: av.container.InputContainer, content_type: MediaType) -> Probed:
    pictures = list(box.streams.video)
    if len(pictures) != 1 or pictures[0].codec_context.name != _IMAGE_CODECS[content_type]:
        raise Unusable("the image holds no picture")
    try:
        frame = _first_frame(box, pictures[0], "image", _WHOLE_PICTURE)
    except av.error.FFmpegError as error:
        raise Unusable(
            "the image is cut short or damaged: its picture does not decode to the end "
            f"({_plain(error)}); upload the whole file again",
            "cut_short",
        ) from error
    return Probed(kind="image", width=frame.width, height=frame.height)


def _refuse_size(width: int, height: int, noun: str) -> None:
    if width <= 0 or height <= 0:
        raise Unusable(f"the {noun} does not say how large its picture is", "no_size")
    if width > MAX_SIDE_PX or height > MAX_SIDE_PX or width * height > MAX_PIXELS:
        raise Unusable(
            f"the {noun} is {width}×{height} pixels; at most {MAX_SIDE_PX} on a side and "
            f"{MAX_PIXELS // 1_000_000} million in all are taken",
            "too_large",
        )


def _first_frame(
    box: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    noun: str,
    options: dict[str, str] | None = None,
) -> av.VideoFrame:
    stream.codec_context.options = {**_LIMITS, **(options or {})}
    stream.codec_context.thread_count = 1
    for count, packet in enumerate(box.demux()):
        if count >= MAX_PACKETS:
            break
        if packet.stream is not stream:
            continue
        for frame in packet.decode():  # the last, empty packet flushes the decoder
            if isinstance(frame, av.VideoFrame):
                return frame
    raise Unusable(f"the {noun} is damaged: no frame of it could be decoded")


def _header_size(file: BinaryIO, content_type: MediaType) -> tuple[int, int]:
    """(width, height) from a PNG's ``IHDR`` or a JPEG's first ``SOFn``; (0, 0) if not found."""
    if content_type == "image/png":
        head = file.read(24)
        if len(head) == 24 and head[12:16] == b"IHDR":
            width, height = struct.unpack(">II", head[16:24])
            return int(width), int(height)
        return 0, 0
    file.seek(2)  # after SOI
    for _ in range(10_000):
        marker = file.read(4)
        if len(marker) < 4 or marker[0] != 0xFF:
            return 0, 0
        kind, length = marker[1], struct.unpack(">H", marker[2:])[0]
        if kind in _JPEG_SOF:
            body = file.read(5)
            if len(body) < 5:
                return 0, 0
            height, width = struct.unpack(">HH", body[1:5])
            return int(width), int(height)
        file.seek(length - 2, 1)
    return 0, 0


def _plain(error: av.error.FFmpegError) -> str:
    """FFmpeg's message without the file name PyAV appends (it is our temporary path)."""
    return str(error.strerror or "unreadable data").rstrip(".").lower()
