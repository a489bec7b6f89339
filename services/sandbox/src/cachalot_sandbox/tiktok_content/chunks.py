"""TikTok's chunk rules (Media Transfer Guide), checked by ``video/init``.

Where the guide's "MB" could be 10^6 or 2^20 bytes the fake takes the
stricter of the two readings, so a client it accepts is accepted by TikTok
under either: a chunk is 5 MiB..64,000,000 bytes, the final chunk (which
absorbs the trailing bytes) at most 128,000,000 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_CHUNK = 5 * 1024 * 1024
MAX_CHUNK = 64_000_000
MAX_FINAL_CHUNK = 128_000_000
MAX_CHUNKS = 1000
MAX_VIDEO = 4 * 1024 * 1024 * 1024


class ChunkPlanError(ValueError):
    """The declared chunk plan breaks a rule; the message says which."""


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    video_size: int
    chunk_size: int
    total_chunk_count: int

    def chunk_length(self, index: int) -> int:
        """Bytes in chunk ``index`` (0-based); the last one takes the remainder."""
        if index < self.total_chunk_count - 1:
            return self.chunk_size
        return self.video_size - self.chunk_size * (self.total_chunk_count - 1)


def check_plan(video_size: int, chunk_size: int, total_chunk_count: int) -> ChunkPlan:
    """The plan if it obeys every rule, else :class:`ChunkPlanError`."""
    if video_size < 1:
        raise ChunkPlanError("video_size must be positive")
    if video_size > MAX_VIDEO:
        raise ChunkPlanError("video_size exceeds 4 GB")
    if video_size < MIN_CHUNK:
        if chunk_size != video_size or total_chunk_count != 1:
            raise ChunkPlanError(
                "a video under 5 MB must be one chunk with chunk_size equal to video_size"
            )
        return ChunkPlan(video_size, chunk_size, 1)
    if not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise ChunkPlanError("chunk_size must be between 5 MB and 64 MB")
    expected = video_size // chunk_size
    if total_chunk_count != expected:
        raise ChunkPlanError(
            f"total_chunk_count must be floor(video_size / chunk_size) = {expected}"
        )
    if not 1 <= total_chunk_count <= MAX_CHUNKS:
        raise ChunkPlanError("total_chunk_count must be between 1 and 1000")
    if video_size > MAX_CHUNK and total_chunk_count < 2:
        raise ChunkPlanError("a video over 64 MB must be uploaded in several chunks")
    plan = ChunkPlan(video_size, chunk_size, total_chunk_count)
    if plan.chunk_length(total_chunk_count - 1) > MAX_FINAL_CHUNK:
        raise ChunkPlanError("the final chunk would exceed 128 MB")
    return plan
