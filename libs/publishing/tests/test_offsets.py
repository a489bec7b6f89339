"""The committed offset never passes a command that has not finished."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cachalot_publishing.offsets import OffsetTracker


def test_nothing_is_committable_until_the_lowest_offset_finishes() -> None:
    tracker: OffsetTracker[int] = OffsetTracker()
    for offset in (5, 6, 7):
        tracker.register(0, offset)
    tracker.complete(0, 7)
    tracker.complete(0, 6)
    assert tracker.committable() == {}
    tracker.complete(0, 5)
    assert tracker.committable() == {0: 8}


def test_a_committed_offset_is_not_offered_again_until_it_moves() -> None:
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.register("p", 0)
    tracker.complete("p", 0)
    tracker.committed(tracker.committable())
    assert tracker.committable() == {}
    tracker.register("p", 1)
    tracker.complete("p", 1)
    assert tracker.committable() == {"p": 2}


def test_partitions_are_independent_and_forgetting_one_keeps_the_others() -> None:
    tracker: OffsetTracker[int] = OffsetTracker()
    tracker.register(0, 10)
    tracker.register(1, 3)
    tracker.complete(1, 3)
    assert tracker.committable() == {1: 4}
    tracker.forget([1])
    assert tracker.committable() == {}
    assert tracker.in_flight(0) == 1


def test_an_offset_seen_twice_is_refused() -> None:
    tracker: OffsetTracker[int] = OffsetTracker()
    assert tracker.register(0, 4)
    assert not tracker.register(0, 4)
    assert not tracker.register(0, 2)
    assert tracker.register(0, 9)  # gaps (compacted or DLQ-skipped records) are fine


@given(
    count=st.integers(min_value=1, max_value=60),
    order=st.randoms(use_true_random=False),
    stop=st.integers(min_value=0, max_value=60),
)
def test_the_commit_point_is_always_the_first_unfinished_offset(count, order, stop) -> None:
    tracker: OffsetTracker[int] = OffsetTracker()
    offsets = list(range(100, 100 + count * 2, 2))  # with gaps
    for offset in offsets:
        tracker.register(0, offset)
    finishing = offsets[:]
    order.shuffle(finishing)
    finished: set[int] = set()
    for offset in finishing[: min(stop, count)]:
        tracker.complete(0, offset)
        finished.add(offset)
        point = tracker.committable().get(0)
        unfinished = [o for o in offsets if o not in finished]
        if point is not None:
            assert all(o >= point for o in unfinished), "committed past an unfinished command"
            assert point - 1 in finished
        if unfinished and unfinished[0] == offsets[0]:
            assert point is None
        if not unfinished:
            assert point == offsets[-1] + 1


def test_a_command_taken_before_its_partition_was_forgotten_completes_nothing_after() -> None:
    # The broker restarted empty while offset 3 was publishing: the partition is
    # read again from offset 0, and the old command's end must not mark the new
    # offset 3 finished (a commit would pass a command that has not finished).
    tracker: OffsetTracker[str] = OffsetTracker()
    tracker.register("p", 3)
    old = tracker.epoch("p")
    tracker.forget(["p"])
    for offset in range(4):
        tracker.register("p", offset)
    for offset in (0, 1, 2):
        tracker.complete("p", offset, tracker.epoch("p"))
    tracker.complete("p", 3, old)
    assert tracker.committable() == {"p": 3}
    tracker.complete("p", 3, tracker.epoch("p"))
    assert tracker.committable() == {"p": 4}
