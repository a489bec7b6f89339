"""Per-client-IP rate limits with the ``limits`` library.

Every limit (``5/minute;50/day`` by default) is a sliding window counter
(O(1) per hit in memory and in Redis, unlike a moving window's per-hit list)
keyed by the client IP, which ``cachalot_common.net.client_ip`` takes from
``X-Forwarded-For`` only when the direct peer is a trusted proxy, so a client
cannot dodge the limit by inventing the header.

The store is ``memory://`` by default (one process: embedded mode), held in
:class:`SweepingMemoryStorage`. ``limits``' asyncio memory storage starts a
sweep over *every* key after every hit (limits 5.8), so with the keys of a
day's client IPs each request cost O(keys) — 5 ms a hit at 10,000 keys,
46 ms at 50,000 (measured) — a slowdown anyone with many addresses could
force. Expired keys are already ignored when read, so the sweep only frees
memory; here it runs at most every ``sweep_interval`` seconds. Several
replicas share one store through ``CACHALOT_RATE_LIMIT_STORAGE=redis://…``:
``limits``' async Redis storage (coredis client, the ``limits[async-redis]``
extra) — ``rediss://``, ``redis+sentinel://``, ``redis+cluster://`` and
``valkey://`` work the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from limits import RateLimitItem, strategies
from limits.aio import strategies as aio_strategies
from limits.aio.storage import Storage
from limits.storage import MemoryStorage, storage_from_string


class SweepingMemoryStorage(MemoryStorage):
    """``limits``' memory storage, used synchronously; expired keys swept every ``sweep_interval``.

    The event loop is one thread, so the counters need no asyncio locks or
    coroutines: a hit is a few dictionary operations (about half the cost of
    the asyncio storage's, measured in ``bench/contact_intake.py``). The sweep
    runs inline, at most every ``sweep_interval`` seconds, instead of
    ``limits``' timer thread every 10 ms.
    """

    def __init__(self, sweep_interval: float = 10.0) -> None:
        super().__init__()
        self.sweep_interval = sweep_interval
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - limits' private hook
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def async_storage_uri(uri: str) -> str:
    """``limits`` wants ``async+redis://`` for the asyncio storages; accept both."""
    return uri if uri.startswith("async+") else f"async+{uri}"


class RateLimiter:
    """Counts hits per key; answers how long to wait when a limit is spent."""

    def __init__(self, limits: Sequence[RateLimitItem], storage_uri: str = "memory://") -> None:
        self.limits = tuple(limits)
        self._memory: strategies.SlidingWindowCounterRateLimiter | None = None
        self._shared: aio_strategies.SlidingWindowCounterRateLimiter | None = None
        if storage_uri.removeprefix("async+") == "memory://":
            self.storage: SweepingMemoryStorage | Storage = SweepingMemoryStorage()
            self._memory = strategies.SlidingWindowCounterRateLimiter(self.storage)
        else:
            storage = storage_from_string(async_storage_uri(storage_uri))
            assert isinstance(storage, Storage)
            self.storage = storage
            self._shared = aio_strategies.SlidingWindowCounterRateLimiter(storage)

    async def hit(self, key: str) -> float | None:
        """Count one request; ``None`` if allowed, else seconds until one is allowed."""
        for limit in self.limits:
            if self._memory is not None:
                if self._memory.hit(limit, "contact", key):
                    continue
                stats = self._memory.get_window_stats(limit, "contact", key)
            else:
                assert self._shared is not None
                if await self._shared.hit(limit, "contact", key):
                    continue
                stats = await self._shared.get_window_stats(limit, "contact", key)
            return max(1.0, math.ceil(stats.reset_time - time.time()))
        return None

    async def healthy(self) -> bool:
        if isinstance(self.storage, SweepingMemoryStorage):
            return True
        return bool(await self.storage.check())
