"""A chunk plan that obeys TikTok's Media Transfer Guide.

* under 5 MiB: one chunk, ``chunk_size == video_size``;
* otherwise ``chunk_size`` within 5 MiB..64,000,000 bytes (the stricter of
  the two readings of "MB"), ``total_chunk_count = floor(size / chunk_size)``,
  the final chunk absorbing the remainder and staying under 128,000,000;
* 1..1000 chunks, and more than one when the video is over 64 MB.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_CHUNK = 5 * 1024 * 1024
MAX_CHUNK = 64_000_000
MAX_FINAL_CHUNK = 128_000_000
MAX_CHUNKS = 1000
MAX_VIDEO = 4 * 1024 * 1024 * 1024


class VideoTooLarge(ValueError):
    """TikTok takes at most 4 GB through the API."""


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    video_size: int
    chunk_size: int
    total_chunk_count: int

    def span(self, index: int) -> tuple[int, int]:
        """(first byte, length) of chunk ``index``; the last takes the remainder."""
        first = index * self.chunk_size
        if index == self.total_chunk_count - 1:
            return first, self.video_size - first
        return first, self.chunk_size

    def index_at(self, offset: int) -> int:
        """The chunk that starts at ``offset`` (an upload's progress)."""
        if offset % self.chunk_size or offset >= self.video_size:
            raise ValueError(f"offset {offset} is not the start of a chunk")
        return min(offset // self.chunk_size, self.total_chunk_count - 1)


def plan_chunks(video_size: int, preferred: int = 10_000_000) -> ChunkPlan:
    """The plan for ``video_size`` bytes with chunks near ``preferred`` bytes."""
    if video_size < 1:
        raise ValueError("video_size must be positive")
    if video_size > MAX_VIDEO:
        raise VideoTooLarge("TikTok accepts videos up to 4 GB")
    if video_size < MIN_CHUNK:
        return ChunkPlan(video_size, video_size, 1)
    chunk = max(MIN_CHUNK, min(preferred, MAX_CHUNK))
    # enough chunks to stay under 1000 and keep the final one ≤ 128 MB
    chunk = max(chunk, -(-video_size // MAX_CHUNKS))
    if video_size <= chunk:  # 5 MiB..chunk (≤ 64 MB): one chunk
        return ChunkPlan(video_size, video_size, 1)
    count = video_size // chunk
    if count == 1 and video_size > MAX_CHUNK:  # over 64 MB must be several chunks
        chunk = video_size // 2
        count = 2
    return ChunkPlan(video_size, chunk, count)
