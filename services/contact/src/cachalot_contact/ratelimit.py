"""Per-client-IP rate limits with the ``limits`` library.

Every limit (``5/minute;50/day`` by default) is a sliding window counter
(O(1) per hit in memory and in Redis, unlike a moving window's per-hit list)
keyed by the client IP, which ``cachalot_common.net.client_ip`` takes from
``X-Forwarded-For`` only when the direct peer is a trusted proxy, so a client
cannot dodge the limit by inventing the header.

The store is ``memory://`` by default (one process: embedded mode), held in
:class:`SweepingMemoryStorage`: ``limits``' asyncio memory storage starts a
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

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string


class SweepingMemoryStorage(MemoryStorage):
    """``limits``' asyncio memory storage; expired keys swept at most every ``sweep_interval``."""

    def __init__(self, sweep_interval: float = 10.0) -> None:
        super().__init__()
        self.sweep_interval = sweep_interval
        self._next_sweep = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - limits' private hook
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval
            await super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


def async_storage_uri(uri: str) -> str:
    """``limits`` wants ``async+redis://`` for the asyncio storages; accept both."""
    return uri if uri.startswith("async+") else f"async+{uri}"


class RateLimiter:
    """Counts hits per key; answers how long to wait when a limit is spent."""

    def __init__(self, limits: Sequence[RateLimitItem], storage_uri: str = "memory://") -> None:
        self.limits = tuple(limits)
        storage = (
            SweepingMemoryStorage()
            if storage_uri.removeprefix("async+") == "memory://"
            else storage_from_string(async_storage_uri(storage_uri))
        )
        assert isinstance(storage, Storage)
        self.storage = storage
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, key: str) -> float | None:
        """Count one request; ``None`` if allowed, else seconds until one is allowed."""
        for limit in self.limits:
            if not await self._limiter.hit(limit, "contact", key):
                stats = await self._limiter.get_window_stats(limit, "contact", key)
                return max(1.0, math.ceil(stats.reset_time - time.time()))
        return None

    async def healthy(self) -> bool:
        return bool(await self.storage.check())
