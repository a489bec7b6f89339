"""Files are recognised by their bytes, then probed for what they hold."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from cachalot_queue.probe import Unusable, probe
from cachalot_queue.sniff import sniff
from cachalot_testing.media import ffmpeg_made, video_file

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.mark.parametrize(
    ("name", "kind"),
    [("tiny.mp4", "video/mp4"), ("tiny.mov", "video/quicktime"), ("tiny.webm", "video/webm")],
)
def test_real_videos_are_recognised(name: str, kind: str) -> None:
    assert sniff((FIXTURES / name).read_bytes()[:4096]) == kind


@pytest.mark.parametrize(
    ("head", "kind"),
    [(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"), (b"\x89PNG\r\n\x1a\n\x00", "image/png")],
)
def test_jpeg_and_png_are_recognised_by_their_signatures(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"GIF89a" + bytes(100),
        b"RIFF\x00\x00\x00\x00WEBPVP8 ",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00isommp42",
        b"\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x003gp4",
        b"\x1a\x45\xdf\xa3\x93\x42\x82\x88matroska",
        b"\x1a\x45\xdf\xa3\xff",
    ],
)
def test_other_content_is_not_taken_for_a_video_or_an_image(head: bytes) -> None:
    assert sniff(head) is None


@pytest.mark.parametrize("name", ["tiny.mp4", "tiny.mov", "tiny.webm"])
def test_the_probe_reads_each_containers_size_frame_rate_and_duration(name: str) -> None:
    path = FIXTURES / name
    kind = sniff(path.read_bytes()[:4096])
    assert kind is not None
    facts = probe(path, kind)
    assert (facts.kind, facts.width, facts.height, facts.frame_rate) == ("video", 160, 120, 25.0)
    assert facts.duration_sec == pytest.approx(1.0, abs=0.05)
    assert facts.audio_codec is None


def test_the_probe_names_the_audio_codec_of_a_video_with_sound() -> None:
    facts = probe(video_file(), "video/mp4")
    assert (facts.video_codec, facts.audio_codec) == ("h264", "aac")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_a_small_png_declaring_a_huge_picture_is_refused_before_it_is_decoded(
    tmp_path: Path,
) -> None:
    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 2, 0, 0, 0)  # 40000×40000 RGB
    data = (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 100))
        + _chunk(b"IEND", b"")
    )
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    with pytest.raises(Unusable, match="40000×40000 pixels; at most 16384 on a side"):
        probe(path, "image/png")


def test_a_jpeg_probed_as_a_png_is_not_taken(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes((FIXTURES / "tiny.mp4").read_bytes())
    with pytest.raises(Unusable):
        probe(path, "image/png")


def test_a_fragmented_mp4_whose_header_lists_no_samples_is_still_a_video() -> None:
    picture = "testsrc=size=360x640:rate=30:duration=1"
    fragmented = ffmpeg_made(
        ".mp4", "-f", "lavfi", "-i", picture, "-c:v", "libx264", "-preset", "ultrafast",
        "-movflags", "+frag_keyframe+empty_moov",
    )  # fmt: skip
    facts = probe(fragmented, "video/mp4")
    assert (facts.width, facts.height, facts.frame_rate) == (360, 640, 30.0)


@pytest.mark.parametrize(
    ("size", "suffix", "kind"),
    [("6000x6000", ".jpg", "image/jpeg"), ("4000x8960", ".png", "image/png")],
)
def test_an_image_just_under_the_pixel_limit_is_taken_with_its_size(
    size: str, suffix: str, kind: str
) -> None:
    """fresh10e: 6000×6000 (36.0 million, not over the limit) was refused as "cut short or
    damaged": FFmpeg checks ``max_pixels`` against the picture it allocates, padded to a
    multiple of 64 px a side, so the same limit handed to it refused a little below ours."""
    path = ffmpeg_made(suffix, "-f", "lavfi", "-i", f"color=c=red:s={size}", "-frames:v", "1")
    facts = probe(path, kind)
    assert f"{facts.width}x{facts.height}" == size
