"""Videos are recognised by their bytes; the duration comes from the mvhd box."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from cachalot_queue.sniff import mp4_duration, sniff

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("tiny.mp4", "video/mp4"), ("tiny.mov", "video/quicktime"), ("tiny.webm", "video/webm")],
)
def test_real_videos_are_recognised(name: str, kind: str) -> None:
    assert sniff((FIXTURES / name).read_bytes()[:4096]) == kind


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"GIF89a" + bytes(100),
        b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00isommp42",
        b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x003gp4",
        b"\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska",
        b"\x1a\x45\xdf\xa3\xff",
    ],
)
def test_other_content_is_not_taken_for_a_video(head: bytes) -> None:
    assert sniff(head) is None


def test_the_duration_is_read_from_the_movie_header() -> None:
    data = (FIXTURES / "tiny.mp4").read_bytes()
    assert mp4_duration(io.BytesIO(data), len(data)) == pytest.approx(1.0, abs=0.05)


def test_a_file_without_a_movie_header_has_no_duration() -> None:
    data = b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00" + b"\x00\x00\x00\x08free"
    assert mp4_duration(io.BytesIO(data), len(data)) is None
