"""The notifier's shutdown is bounded: a task or resource that will not stop is left behind
with an error naming it, and the rest of the shutdown still runs."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from cachalot_notifier.main import close_within, stop_tasks


async def test_a_task_that_ignores_its_cancellation_holds_the_shutdown_only_for_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:  # what a swallowed cancellation looks like from outside
        while not release.is_set():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue

    async def obedient() -> None:
        await asyncio.sleep(3600)

    tasks = [
        asyncio.create_task(stubborn(), name="stubborn loop"),
        asyncio.create_task(obedient(), name="obedient loop"),
    ]
    await asyncio.sleep(0)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        left = await stop_tasks(tasks, timeout_s=0.5)
    assert time.monotonic() - started < 5
    assert left == ["stubborn loop"]
    assert tasks[1].cancelled()
    assert "stubborn loop" in caplog.text
    release.set()
    await tasks[0]


async def test_a_resource_that_never_closes_is_left_behind_within_the_bound(
    caplog: pytest.LogCaptureFixture,
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.ERROR):
        closed = await close_within("the database pool", asyncio.Event().wait(), 0.3)
    assert closed is False
    assert time.monotonic() - started < 5
    assert "the database pool did not close" in caplog.text
    assert await close_within("the HTTP client", asyncio.sleep(0), 0.3) is True
