"""TikTok's per-token, per-minute limits, kept on our side too.

TikTok counts per access token; a refreshed token must not buy a fresh
budget, so we count per account (stricter). Commands are keyed by account
id, so one account's work lands on one replica and one limiter.

The limiter does not sleep: it says how long until one more call fits, and
the publisher waits through the runtime (``ctx.sleep``), which gives the
publish slot back meanwhile, or, for a wait longer than the in-process
maximum, hands the command back to the queue as ``retryable``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Literal
from uuid import UUID

Endpoint = Literal["creator_info", "init", "status"]
WINDOW_S = 60.0


class AccountLimiter:
    def __init__(
        self, per_minute: dict[Endpoint, int], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._calls: dict[tuple[UUID, Endpoint], deque[float]] = {}

    def wait_s(self, account_id: UUID, endpoint: Endpoint) -> float:
        """0.0 when one more ``endpoint`` call fits this account's last minute (and it is
        counted), else the seconds until it will (nothing counted)."""
        now = self._clock()
        calls = self._calls.setdefault((account_id, endpoint), deque())
        while calls and calls[0] <= now - WINDOW_S:
            calls.popleft()
        if len(calls) < self._per_minute[endpoint]:
            calls.append(now)
            return 0.0
        return calls[0] + WINDOW_S - now
