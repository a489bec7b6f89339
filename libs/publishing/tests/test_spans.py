"""Reading a byte range from the media store: one block or many, same bytes, with progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachalot_publishing.spans import read_span


async def span(path: Path, first: int, length: int, read_size: int) -> bytes:
    return b"".join([block async for block in read_span(path, first, length, read_size)])


@pytest.mark.parametrize("read_size", [16, 64, 1024])  # many blocks, exactly one, one
async def test_a_span_reads_the_same_bytes_whatever_the_block_size(
    tmp_path: Path, read_size: int
) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(bytes(range(256)) * 2)
    assert await span(video, 100, 64, read_size) == (bytes(range(256)) * 2)[100:164]


@pytest.mark.parametrize("read_size", [16, 1024])
async def test_a_file_shorter_than_its_span_raises_os_error(tmp_path: Path, read_size: int) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x00" * 50)
    with pytest.raises(OSError, match="ended 14 bytes early"):
        await span(video, 0, 64, read_size)


@pytest.mark.parametrize("read_size", [16, 1024])  # many blocks, one
async def test_progress_counts_the_file_offset_of_each_block_taken(
    tmp_path: Path, read_size: int
) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\x01" * 200)
    reports: list[tuple[int, int]] = []
    seen: list[int] = []

    async def progress(sent: int, total: int) -> None:
        reports.append((sent, total))

    async for block in read_span(video, 100, 64, read_size, progress=progress, total=200):
        seen.append(len(block))
    assert [sent for sent, _ in reports] == [100 + sum(seen[: i + 1]) for i in range(len(seen))]
    assert reports[-1] == (164, 200)
