"""Per-IP rate limit for the public sign-in endpoints (``limits``, moving window)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.requests import Request

from cachalot_common.net import client_ip
from cachalot_common.problems import Problem


class IpRateLimit:
    def __init__(self, rule: str, *, trusted_proxies: Sequence[str]) -> None:
        self._item = parse(rule)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self._trusted = tuple(trusted_proxies)

    async def __call__(self, request: Request) -> None:
        """FastAPI dependency: 429 with ``Retry-After`` once the IP is over the limit."""
        ip = client_ip(request, self._trusted) or "unknown"
        if await self._limiter.hit(self._item, "auth", ip):
            return
        stats = await self._limiter.get_window_stats(self._item, "auth", ip)
        retry = max(1, math.ceil(stats.reset_time - time.time()))
        raise Problem(
            429,
            f"Too many sign-in requests from this address; try again in {retry} seconds.",
            headers={"Retry-After": str(retry)},
        )
