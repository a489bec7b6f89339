"""A broker serves one stack at a time: a second is refused before it starts anything.

Two stacks on one broker share consumer groups, so each takes the other's
commands and results (issue 13: the one-trace test's post stayed
``dispatched`` in a whole session, its command taken by the session stack's
publisher-tiktok and its result by the session stack's queue).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cachalot_testing import broker
from cachalot_testing.broker import BrokerInUse
from cachalot_testing.ports import free_port
from cachalot_testing.stack import EmbeddedStack


def test_a_second_stack_on_a_broker_another_stack_runs_on_is_refused_before_it_starts(
    tmp_path: Path,
) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    broker.claim(bootstrap, "/var/first-stack")
    try:
        second = EmbeddedStack(tmp_path / "second", kafka_bootstrap=bootstrap)
        with pytest.raises(BrokerInUse, match="already serves the stack in /var/first-stack"):
            second.start(timeout=5)
        assert second.pid is None  # nothing was started
        assert not (tmp_path / "second").exists()
    finally:
        broker.release(bootstrap, "/var/first-stack")
    broker.claim(bootstrap, str(tmp_path / "second"))  # free again once the first stopped
    broker.claim(bootstrap, str(tmp_path / "second"))  # and the holder may claim it again
    broker.release(bootstrap, str(tmp_path / "second"))


def test_releasing_a_broker_one_does_not_hold_leaves_it_with_its_holder() -> None:
    bootstrap = f"127.0.0.1:{free_port()}"
    broker.claim(bootstrap, "holder")
    broker.release(bootstrap, "someone else")
    with pytest.raises(BrokerInUse):
        broker.claim(bootstrap, "someone else")
    broker.release(bootstrap, "holder")
