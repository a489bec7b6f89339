"""Read-your-writes over the queue's copy of auth's accounts.

The queue keeps a projection of auth's ``accounts.v1`` events
(:class:`~cachalot_queue.tables.Account`). It lags auth by the relay and the consumer, usually
well under a second: a client who connects an account, or links a Telegram channel, and queues a
post at once can reach the queue before the event does. A refusal that rests on that copy ("not
one of your connected accounts", "link a channel", "no such client") is therefore given only
after the copy had time to catch up (``CACHALOT_ACCOUNT_CATCH_UP_S``); an answer that is already
right costs one read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.1
"""How often the copy is read again while waiting (seconds)."""


async def read_until(
    read: Callable[[], Awaitable[T]], settled: Callable[[T], bool], *, wait_s: float
) -> T:
    """``read()`` again every :data:`POLL_S` until ``settled`` holds for what it gave, or
    ``wait_s`` seconds have passed; the last read either way. Each ``read`` must use a fresh
    session (a transaction's snapshot would never see the event arrive)."""
    deadline = time.monotonic() + wait_s
    value = await read()
    while not settled(value) and time.monotonic() < deadline:
        await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        value = await read()
    return value
