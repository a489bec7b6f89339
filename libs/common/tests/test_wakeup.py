"""Waiting for a wake-up with a timeout never swallows the waiter's cancellation."""

from __future__ import annotations

import asyncio
import contextlib

from cachalot_common.wakeup import Wakeup, wait_event


async def test_a_cancellation_that_meets_a_wake_up_always_stops_the_worker_loop():
    """The notifier's shutdown hung in CI: ``asyncio.wait_for`` (Python 3.11) returned the
    event's result instead of raising when the cancellation and a wake-up met, so a
    ``while True`` worker loop never ended. Cancelled at 300 different moments around a
    wake-up, every loop ends."""

    async def worker(wake: Wakeup) -> None:
        while True:
            await asyncio.sleep(0)
            await wake.wait(0.01)

    left_running = 0
    for moment in range(300):
        wake = Wakeup()
        task = asyncio.create_task(worker(wake))
        await asyncio.sleep(0.003 * (moment % 7))
        wake.set()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=1.0)
        if not done:
            left_running += 1
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert left_running == 0


async def test_wait_event_answers_whether_the_event_came_before_the_timeout():
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await wait_event(event, 5.0) is True
    assert await wait_event(event, 0) is True  # no wait: the event's state now
