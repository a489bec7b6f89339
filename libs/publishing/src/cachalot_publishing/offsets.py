"""Which offset of each partition may be committed: contiguous completion.

Commands of one partition finish out of order (many accounts share a
partition, each in its own lane), but Kafka keeps one committed offset per
partition. :class:`OffsetTracker` commits only up to the lowest offset still
in flight: if the process dies, everything from there on is delivered again,
so nothing unfinished is lost (DESIGN.md, "Delivery guarantees";
reliability-security.md §1.5: a bare ``commit()`` would cover unfinished
work). Pure bookkeeping, no I/O: the runtime registers, completes and
commits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

P = TypeVar("P", bound=Hashable)  # a partition (aiokafka's TopicPartition in the runtime)


@dataclass
class _Partition:
    pending: deque[int] = field(default_factory=deque)  # registered, ascending
    done: set[int] = field(default_factory=set)  # finished, not yet at the head
    next_offset: int | None = None  # what a commit would store (last contiguous + 1)
    committed: int | None = None  # what was last committed
    last: int | None = None  # the highest offset registered


class OffsetTracker(Generic[P]):
    """Offsets in flight per partition, and how far each may be committed."""

    def __init__(self) -> None:
        self._partitions: dict[P, _Partition] = {}
        self._epochs: dict[P, int] = {}  # bumped by forget(): offsets before it are another log's

    def register(self, partition: P, offset: int) -> bool:
        """Note that ``offset`` was received; False if it is not past the last one registered
        (a record delivered twice within one assignment: ignore it)."""
        state = self._partitions.setdefault(partition, _Partition())
        if state.last is not None and offset <= state.last:
            return False
        state.last = offset
        state.pending.append(offset)
        return True

    def epoch(self, partition: P) -> int:
        """How many times ``partition`` was forgotten: note it with an offset registered."""
        return self._epochs.get(partition, 0)

    def complete(self, partition: P, offset: int, epoch: int | None = None) -> None:
        """``offset`` finished (its final result is acknowledged, or it was skipped).

        ``epoch``: :meth:`epoch` when ``offset`` was registered; a command taken
        before the partition was forgotten (revoked, or read again from a broker
        that restarted empty, whose offsets start over) completes nothing of what
        came after, even at the same offset number.
        """
        if epoch is not None and epoch != self.epoch(partition):
            return
        state = self._partitions.get(partition)
        if state is None or offset not in state.pending:
            return
        state.done.add(offset)
        while state.pending and state.pending[0] in state.done:
            head = state.pending.popleft()
            state.done.discard(head)
            state.next_offset = head + 1

    def committable(self) -> dict[P, int]:
        """Per partition, the next offset to commit, where it moved since the last commit."""
        return {
            partition: state.next_offset
            for partition, state in self._partitions.items()
            if state.next_offset is not None and state.next_offset != state.committed
        }

    def committed(self, offsets: dict[P, int]) -> None:
        """The broker stored ``offsets``."""
        for partition, offset in offsets.items():
            state = self._partitions.get(partition)
            if state is not None:
                state.committed = offset

    def in_flight(self, partition: P | None = None) -> int:
        """Registered offsets not yet committable (of one partition, or of all)."""
        if partition is not None:
            state = self._partitions.get(partition)
            return len(state.pending) if state else 0
        return sum(len(s.pending) for s in self._partitions.values())

    def forget(self, partitions: Iterable[P]) -> None:
        """Drop what is known about ``partitions`` (revoked, or assigned afresh)."""
        for partition in partitions:
            self._partitions.pop(partition, None)
            self._epochs[partition] = self.epoch(partition) + 1

    def partitions(self) -> list[P]:
        return list(self._partitions)
