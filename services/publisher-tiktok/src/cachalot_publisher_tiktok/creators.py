"""``creator_info`` answers kept per account for a short time.

TikTok's Direct Post rules ask for ``creator_info`` when the composer opens
(shared/reference/platforms.md §1.2, "Direct Post UX rules"); the queue holds
the person's choices against auth's last read when the post is queued, and the
publisher holds them again right before ``init``. Asking TikTok before every
publish was a fifth of the publisher's CPU in a burst (README.md, eighth session:
2,000 posts over 100 accounts, 20 ``creator_info`` calls per account in seconds,
each the same answer). An answer is kept
``CACHALOT_TIKTOK_CREATOR_INFO_TTL_S`` seconds (30; 0 keeps none), and never
decides alone against the person: a kept answer that refuses the post, or an
``init`` that fails after one, is asked again
(:meth:`cachalot_publisher_tiktok.publisher.TikTokPlatform.checked_init`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

from cachalot_publisher_tiktok.tiktok import CreatorInfo

PRUNE_AT = 4096  # entries before expired ones are dropped on the next put


class CreatorInfoCache:
    """account id → TikTok's last ``creator_info`` answer, kept ``ttl_s`` seconds (``clock``:
    monotonic seconds). Memory: one entry per account asked within the TTL, the expired
    ones dropped once :data:`PRUNE_AT` are kept. Not shared between replicas."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._kept: dict[UUID, tuple[float, CreatorInfo]] = {}

    def get(self, account_id: UUID) -> CreatorInfo | None:
        """The answer for ``account_id`` asked less than the TTL ago, else None."""
        kept = self._kept.get(account_id)
        if kept is None or self._clock() >= kept[0]:
            return None
        return kept[1]

    def put(self, account_id: UUID, info: CreatorInfo) -> None:
        """Keep ``info``, TikTok's answer just now, for the TTL (nothing when it is 0)."""
        if self._ttl_s <= 0:
            return
        now = self._clock()
        if len(self._kept) >= PRUNE_AT:
            self._kept = {k: v for k, v in self._kept.items() if v[0] > now}
        self._kept[account_id] = (now + self._ttl_s, info)

    def forget(self, account_id: UUID) -> None:
        """Drop the answer kept for ``account_id`` (it may be stale: the next asks TikTok)."""
        self._kept.pop(account_id, None)
