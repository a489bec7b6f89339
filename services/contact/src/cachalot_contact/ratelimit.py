"""Per-client-IP rate limits with the ``limits`` library.

Every limit (``5/minute;50/day`` by default) is a sliding window counter
(O(1) per hit in memory and in Redis, unlike a moving window's per-hit list)
keyed by the client IP, which ``cachalot_common.net.client_ip`` takes from
``X-Forwarded-For`` only when the direct peer is a trusted proxy, so a client
cannot dodge the limit by inventing the header.

The store is ``memory://`` by default (one process: embedded mode). Several
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
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string


def async_storage_uri(uri: str) -> str:
    """``limits`` wants ``async+redis://`` for the asyncio storages; accept both."""
    return uri if uri.startswith("async+") else f"async+{uri}"


class RateLimiter:
    """Counts hits per key; answers how long to wait when a limit is spent."""

    def __init__(self, limits: Sequence[RateLimitItem], storage_uri: str = "memory://") -> None:
        self.limits = tuple(limits)
        storage = storage_from_string(async_storage_uri(storage_uri))
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
