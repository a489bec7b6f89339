"""Recognise videos and images by content, not by what the client claims.

MP4 and MOV are ISO-BMFF files whose first box is ``ftyp`` (major brand
``qt  `` is QuickTime); WebM is an EBML document whose ``DocType`` is
``webm``; JPEG starts ``FF D8 FF`` and PNG with its 8-byte signature. This
is the first gate, read from the first 4 KiB while the upload streams in, so
a file of another kind is refused without reading the rest; what the file
holds (a video stream, a decodable frame, its facts) is probed once the whole
file is stored (:mod:`cachalot_queue.probe`).
"""

from __future__ import annotations

import struct
from typing import Final, Literal

VideoType = Literal["video/mp4", "video/quicktime", "video/webm"]
ImageType = Literal["image/jpeg", "image/png"]
MediaType = VideoType | ImageType

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
_JPEG_MAGIC: Final = b"\xff\xd8\xff"
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
_DOCTYPE_ID: Final = 0x4282


def sniff(head: bytes) -> MediaType | None:
    """The video or image type of a file starting with ``head``, or ``None``."""
    if head.startswith(_JPEG_MAGIC):
        return "image/jpeg"
    if head.startswith(_PNG_MAGIC):
        return "image/png"
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
