"""TikTok's per-token, per-minute limits, kept on our side too.

TikTok counts per access token; a refreshed token must not buy a fresh
budget, so we count per account (stricter). Commands are keyed by account
id, so one account's work lands on one replica and one limiter.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from aiolimiter import AsyncLimiter

Endpoint = Literal["creator_info", "init", "status"]


class AccountLimiter:
    def __init__(self, per_minute: dict[Endpoint, int]) -> None:
        self._per_minute = per_minute
        self._limiters: dict[tuple[UUID, Endpoint], AsyncLimiter] = {}

    async def acquire(self, account_id: UUID, endpoint: Endpoint) -> None:
        """Wait until one more ``endpoint`` call for this account fits the limit."""
        key = (account_id, endpoint)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = AsyncLimiter(self._per_minute[endpoint], 60)
            self._limiters[key] = limiter
        await limiter.acquire()
