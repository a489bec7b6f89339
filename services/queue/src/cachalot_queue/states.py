"""The per-target state machine, as pure functions (no I/O, no clock of its own).

::

    scheduled ──dispatch──▶ dispatched ──progress──▶ publishing ──▶ published
        │  ▲                    │                        │
        │  └──retryable (backoff)┴────────────────────────┤──▶ failed ──retry──▶ scheduled
        ├──▶ paused (account needs re-authorisation) ──reconnect──▶ scheduled
        └──▶ cancelled (client, or account revoked/deleted; also from paused)

A result only counts for the attempt it reports and only while that attempt is
in flight, so duplicated, replayed or stale (older attempt) results change
nothing. Every decision returns a :class:`Change` (or ``None``) that the
caller persists together with its ``posts.status.v1`` event.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from cachalot_common.events import AccountEventType, PublishResult, TargetStatus

ALLOWED: Final[dict[TargetStatus, frozenset[TargetStatus]]] = {
    "scheduled": frozenset({"dispatched", "paused", "cancelled"}),
    "dispatched": frozenset({"publishing", "published", "failed", "scheduled", "paused"}),
    "publishing": frozenset({"published", "failed", "scheduled", "paused"}),
    "paused": frozenset({"scheduled", "cancelled"}),
    "failed": frozenset({"scheduled"}),
    "published": frozenset(),
    "cancelled": frozenset(),
}
IN_FLIGHT: Final = frozenset({"dispatched", "publishing"})
CANCELLABLE: Final = frozenset({"scheduled", "paused"})
TERMINAL: Final = frozenset({"published", "cancelled"})
NEEDS_MEDIA: Final[frozenset[TargetStatus]] = frozenset(
    {"scheduled", "dispatched", "publishing", "paused"}
)
"""States in which a target may still read its video: while one of a post's targets is in
one, the video cannot be deleted. The others (published, cancelled, failed) are final
for the file; a failed target whose video was deleted cannot be retried."""

PLATFORM_NAMES: Final = {
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "instagram": "Instagram",
    "vk": "VK",
    "telegram": "Telegram",
}


def can_move(current: TargetStatus, new: TargetStatus) -> bool:
    return new in ALLOWED[current]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How retryable failures come back: capped exponential backoff with jitter."""

    max_attempts: int = 5
    base_s: float = 5.0
    max_s: float = 1800.0

    def delay(self, attempts_used: int, retry_after_s: float | None, rng: random.Random) -> float:
        """Seconds before the next attempt (never sooner than the platform asked).

        "Equal jitter": half the exponential step is fixed, half random, so
        retries spread out without ever collapsing to zero.
        """
        step = min(self.max_s, self.base_s * 2.0 ** max(0, attempts_used - 1))
        delay = step / 2 + rng.uniform(0, step / 2)
        if retry_after_s is not None and retry_after_s > delay:
            delay = retry_after_s
        return min(delay, max(self.max_s, retry_after_s or 0.0))


@dataclass(frozen=True, slots=True)
class TargetState:
    """What the rules need to know about a target."""

    status: TargetStatus
    attempt: int
    budget_start: int
    platform: str
    bytes_sent: int | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A transition to persist (status may stay the same for a progress update)."""

    status: TargetStatus
    reason: str | None = None
    code: str | None = None
    due_at: datetime | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    bytes_sent: int | None = None
    bytes_total: int | None = None
    notify_operator: bool = False
    pause_account: bool = False
    touch_only: bool = False  # no status change: progress bytes only, no event

    @property
    def clears_error(self) -> bool:
        return self.status in {"published", "dispatched"}


def on_result(
    target: TargetState,
    result: PublishResult,
    *,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random,
) -> Change | None:
    """Decide what a publisher's result does to a target, or ``None`` if nothing."""
    if result.attempt != target.attempt or target.status not in IN_FLIGHT:
        return None
    name = PLATFORM_NAMES.get(target.platform, target.platform)
    if result.type == "progress":
        sent = result.bytes_sent
        if target.status == "publishing" and (sent is None or sent <= (target.bytes_sent or -1)):
            return None
        return Change(
            status="publishing",
            bytes_sent=sent,
            bytes_total=result.bytes_total,
            touch_only=target.status == "publishing",
        )
    if result.type == "published":
        return Change(
            status="published",
            remote_id=result.remote_id,
            remote_url=result.remote_url,
            bytes_sent=result.bytes_total or result.bytes_sent,
            bytes_total=result.bytes_total,
        )
    reason = _reason(name, result)
    if result.reauth_required:
        return Change(
            status="paused",
            reason=f"{name}: the account must be reconnected before this can be published. "
            f"({reason})",
            code=result.code or "reauth_required",
            pause_account=True,
            notify_operator=False,
        )
    if result.type == "retryable":
        used = target.attempt - target.budget_start
        if used >= policy.max_attempts:
            return Change(
                status="failed",
                reason=f"{reason} (gave up after {used} attempts)",
                code=result.code or "retryable",
                notify_operator=True,
            )
        delay = policy.delay(used, result.retry_after_s, rng)
        return Change(
            status="scheduled",
            reason=f"{reason} (attempt {used} of {policy.max_attempts}; next in {delay:.0f} s)",
            code=result.code or "retryable",
            due_at=now + timedelta(seconds=delay),
        )
    return Change(
        status="failed", reason=reason, code=result.code or "failed", notify_operator=True
    )


def _reason(platform_name: str, result: PublishResult) -> str:
    text = (result.reason or "").strip()
    if not text:
        text = (
            f"the platform gave no reason (code {result.code})"
            if result.code
            else ("the publisher gave no reason")
        )
    return text if text.lower().startswith(platform_name.lower()) else f"{platform_name}: {text}"


def on_account(
    event_type: AccountEventType, status: TargetStatus, reason: str | None
) -> Change | None:
    """What an account's change does to one of its targets."""
    if event_type == "reauth_required" and status == "scheduled":
        return Change(
            status="paused",
            reason=reason or "The account must be reconnected before this can be published.",
            code="reauth_required",
        )
    if event_type == "connected" and status == "paused":
        return Change(status="scheduled", reason="Account reconnected; publishing resumes.")
    if event_type in {"revoked", "deleted"} and status in CANCELLABLE:
        return Change(
            status="cancelled",
            reason=reason or "The account was disconnected, so this post was cancelled.",
            code=f"account_{event_type}",
        )
    return None
