"""Chunk plans obey TikTok's rules, as the sandbox (which mirrors them) checks."""

from __future__ import annotations

import itertools

import pytest

from cachalot_publisher_tiktok.chunking import ChunkPlan, VideoTooLarge, plan_chunks
from cachalot_sandbox.tiktok_content.chunks import check_plan

MB = 1024 * 1024
SIZES = [
    1,
    4 * MB,
    5 * MB - 1,
    5 * MB,
    9_999_999,
    10_000_000,
    12 * MB,
    50_000_123,
    64_000_000,
    64_000_001,
    127_999_999,
    1024 * MB,
    4 * 1024 * MB,
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("preferred", [5 * MB, 10_000_000, 64_000_000])
def test_every_plan_is_one_tiktok_accepts(size: int, preferred: int) -> None:
    plan = plan_chunks(size, preferred)
    check_plan(plan.video_size, plan.chunk_size, plan.total_chunk_count)
    spans = [plan.span(i) for i in range(plan.total_chunk_count)]
    assert spans[0][0] == 0
    assert sum(length for _, length in spans) == size
    assert all(a + la == b for (a, la), (b, _) in itertools.pairwise(spans))


def test_the_worked_example_of_the_guide_has_a_larger_final_chunk() -> None:
    plan = ChunkPlan(50_000_123, 10_000_000, 5)
    assert plan.span(4) == (40_000_000, 10_000_123)
    assert plan.index_at(40_000_000) == 4


def test_resuming_only_starts_at_a_chunk_boundary() -> None:
    plan = plan_chunks(12 * MB, 5 * MB)
    assert plan.index_at(5 * MB) == 1
    with pytest.raises(ValueError, match="not the start"):
        plan.index_at(5 * MB + 1)


def test_a_video_over_four_gigabytes_is_refused() -> None:
    with pytest.raises(VideoTooLarge):
        plan_chunks(4 * 1024 * MB + 1)
