"""Recognise videos by content, not by what the client claims.

MP4 and MOV are ISO-BMFF files whose first box is ``ftyp`` (major brand
``qt  `` is QuickTime); WebM is an EBML document whose ``DocType`` is
``webm``. The duration of an ISO-BMFF file comes from ``moov/mvhd``, found by
walking box headers (seeks, not reads), so it costs a few small reads even
when ``moov`` sits at the end of a large file.
"""

from __future__ import annotations

import struct
from typing import BinaryIO, Final, Literal

VideoType = Literal["video/mp4", "video/quicktime", "video/webm"]

SNIFF_BYTES: Final = 4096
_MP4_BRANDS: Final = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso8", b"iso9",
        b"mp41", b"mp42", b"avc1", b"dash", b"M4V ", b"M4VH", b"M4VP", b"mmp4",
        b"f4v ", b"MSNV", b"XAVC", b"NDAS", b"av01", b"hvc1",
    }
)  # fmt: skip
_AUDIO_BRANDS: Final = frozenset({b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ", b"mp3 "})
_EBML_MAGIC: Final = b"\x1a\x45\xdf\xa3"
_DOCTYPE_ID: Final = 0x4282


def sniff(head: bytes) -> VideoType | None:
    """The video type of a file starting with ``head``, or ``None``."""
    if len(head) >= 16 and head[4:8] == b"ftyp":
        return _iso_bmff_type(head)
    if head.startswith(_EBML_MAGIC):
        return "video/webm" if _ebml_doctype(head) == "webm" else None
    return None


def _iso_bmff_type(head: bytes) -> VideoType | None:
    size = struct.unpack(">I", head[:4])[0]
    end = min(len(head), size if size >= 16 else 16)
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major == b"qt  ":
        return "video/quicktime"
    if major in _AUDIO_BRANDS:
        return None
    if major in _MP4_BRANDS or compatible & _MP4_BRANDS:
        return "video/mp4"
    if b"qt  " in compatible:
        return "video/quicktime"
    return None


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, next position)."""
    first = data[pos]
    length = 1
    mask = 0x80
    while length <= 8 and not first & mask:
        mask >>= 1
        length += 1
    if length > 8 or pos + length > len(data):
        raise ValueError("bad EBML integer")
    value = first if keep_marker else first & (mask - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def _ebml_doctype(head: bytes) -> str | None:
    try:
        _, pos = _vint(head, 0, keep_marker=True)
        size, pos = _vint(head, pos, keep_marker=False)
        end = min(len(head), pos + size)
        while pos < end:
            element, pos = _vint(head, pos, keep_marker=True)
            length, pos = _vint(head, pos, keep_marker=False)
            if element == _DOCTYPE_ID:
                return head[pos : pos + length].rstrip(b"\x00").decode("ascii")
            pos += length
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    return None


def mp4_duration(file: BinaryIO, file_size: int) -> float | None:
    """Seconds from ``moov/mvhd``, or ``None`` if the boxes do not say."""
    try:
        moov = _find_box(file, 0, file_size, b"moov")
        if moov is None:
            return None
        mvhd = _find_box(file, moov[0], moov[1], b"mvhd")
        if mvhd is None:
            return None
        file.seek(mvhd[0])
        version = file.read(4)[0]
        if version == 1:
            _, _, timescale, duration = struct.unpack(">QQIQ", file.read(28))
        else:
            _, _, timescale, duration = struct.unpack(">IIII", file.read(16))
        return round(duration / timescale, 3) if timescale else None
    except (struct.error, IndexError, OSError):
        return None


def _find_box(file: BinaryIO, start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """(payload start, payload end) of the first ``kind`` box in [start, end)."""
    pos = start
    for _ in range(10_000):
        if pos + 8 > end:
            return None
        file.seek(pos)
        header = file.read(8)
        size, box = struct.unpack(">I4s", header)
        payload = pos + 8
        if size == 1:
            size = struct.unpack(">Q", file.read(8))[0]
            payload += 8
        elif size == 0:
            size = end - pos
        if size < payload - pos:
            return None
        if box == kind:
            return payload, min(end, pos + size)
        pos += size
    return None
