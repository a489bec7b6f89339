"""A broker that is away costs a few log lines, not thousands (issue 11 item 6)."""

from __future__ import annotations

import logging

from cachalot_common.logging import RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_broker_client_complaint_repeated_ten_times_a_second_is_kept_once_per_window() -> None:
    clock = Clock()
    repeats = RepeatFilter(window_s=30, clock=clock)
    kept = []
    for tick in range(600):  # a minute of reconnect attempts, ten a second
        clock.now = 100.0 + tick / 10
        record = _record("aiokafka", "Unable connect to node with id %s: %s", 111, "refused")
        if repeats.filter(record):
            kept.append(record.getMessage())
    assert len(kept) == 2
    assert kept[0] == "Unable connect to node with id 111: refused"
    assert kept[1].endswith("(299 more like this in the last 30s)")


def test_different_complaints_and_other_loggers_are_not_held_back() -> None:
    repeats = RepeatFilter(window_s=30, clock=Clock())
    assert repeats.filter(_record("aiokafka", "Unable connect to node %s", 1))
    assert repeats.filter(_record("aiokafka.consumer.fetcher", "Failed fetch messages"))
    assert repeats.filter(_record("faststream.queue", "Kafka error occurred"))
    for _ in range(5):
        assert repeats.filter(_record("cachalot_queue.dispatch", "reconciler failed"))
        assert repeats.filter(_record("aiokafka", "joined group", level=logging.INFO))
