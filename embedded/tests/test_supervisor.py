"""The embedded supervisor starts a dead child again after about a second, every time."""

from __future__ import annotations

import asyncio
import sys
import time

from cachalot_embedded.supervisor import RESTART_DELAY_MAX_S, Child, Supervisor, restart_delay_s


def test_the_pause_before_a_dead_child_starts_again_stays_near_a_second() -> None:
    """Issue 11 (fresh11c): the pause doubled with every restart up to 30 s, so after a
    few broker kills the embedded broker stayed away for half a minute."""
    assert restart_delay_s(1) == 1.0
    assert [restart_delay_s(n) for n in range(2, 12)] == [RESTART_DELAY_MAX_S] * 10
    assert RESTART_DELAY_MAX_S <= 2.0


async def test_a_child_that_dies_again_and_again_is_back_within_the_cap_each_time() -> None:
    """A real child, dying at once seven times: six pauses, 11 s in all (61 s before)."""
    supervisor = Supervisor()
    child = Child("dies", [sys.executable, "-c", "raise SystemExit(1)"], env={})
    began = time.monotonic()
    await supervisor.start(child)
    try:
        async with asyncio.timeout(30):
            while child.restarts < 7:
                await asyncio.sleep(0.05)
    finally:
        await supervisor.stop_all(grace=2.0)
    assert time.monotonic() - began < 1 + 5 * RESTART_DELAY_MAX_S + 10  # 10 s for 7 starts
