"""The in-memory rate limit store: correct limits, and a hit that costs the same at any size."""

from __future__ import annotations

import asyncio

from limits import parse_many
from limits.storage import MemoryStorage

from cachalot_contact.ratelimit import RateLimiter, SweepingMemoryStorage


async def test_the_memory_store_sweeps_at_most_once_per_interval(monkeypatch):
    """limits' own memory storages sweep every key after every hit (asyncio) or every
    10 ms in a new timer thread (sync): O(keys) per request, or a thread for the GIL."""
    sweeps = 0
    original = MemoryStorage._MemoryStorage__expire_events  # type: ignore[attr-defined]

    def counted(self: MemoryStorage) -> None:
        nonlocal sweeps
        sweeps += 1
        original(self)

    monkeypatch.setattr(MemoryStorage, "_MemoryStorage__expire_events", counted)
    limiter = RateLimiter(parse_many("5/minute;50/day"))
    assert isinstance(limiter.storage, SweepingMemoryStorage)
    for n in range(2000):
        await limiter.hit(f"10.0.{n // 256}.{n % 256}")
        await asyncio.sleep(0)  # as between requests: a scheduled sweep would run here
    assert sweeps <= 2  # our first sweep, and the one-off timer limits starts when built


async def test_expired_keys_are_still_swept_and_limits_still_hold():
    limiter = RateLimiter(parse_many("2/second"))
    storage = limiter.storage
    assert isinstance(storage, SweepingMemoryStorage)
    storage.sweep_interval = 0.0
    assert await limiter.hit("203.0.113.1") is None
    assert await limiter.hit("203.0.113.1") is None
    assert await limiter.hit("203.0.113.1") is not None  # the third in a second: wait
    assert storage.storage  # counters held
    await asyncio.sleep(2.2)  # both windows over
    assert await limiter.hit("203.0.113.2") is None  # a hit sweeps (interval 0 here)
    assert "203.0.113.1" not in " ".join(storage.storage)  # the expired keys are gone
    assert await limiter.hit("203.0.113.1") is None  # and the first client may send again
