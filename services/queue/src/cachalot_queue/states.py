"""The per-target state machine, as pure functions (no I/O, no clock of its own).

::

    scheduled ──dispatch──▶ dispatched ──progress──▶ publishing ──▶ published
        │  ▲                    │                        │
        │  └──retryable (backoff)┴────────────────────────┤──▶ failed ──retry──▶ scheduled
        ├──▶ paused (account needs re-authorisation, or the client's 18+ consent
        │     is missing) ──reconnect / consent (accounts.v1 connected)──▶ scheduled
        └──▶ cancelled (client, or account revoked/deleted; also from paused)

    dispatched, publishing ──unknown outcome──▶ unconfirmed
        unconfirmed ──client: "mark as published", or a later published result──▶ published
        unconfirmed ──client: "publish again" (a new attempt)──▶ scheduled

    scheduled, paused, failed ──account lost──▶ cancelled
    dispatched, publishing ──account lost, then any result but published──▶ cancelled

``unconfirmed`` (issue 10): the attempt may have posted and nobody can look it up (the
publisher's ``unknown`` result: Telegram has no lookup of sent messages and no idempotency
key; or, for such a platform, a publisher silent through every status check). It is not a
failure: not worded, counted or mailed as one, and never tried again by itself, since that
could post twice. The client looks at the platform and says which it is. The term follows the
field's others (participles saying what is known of the post: scheduled, published, failed);
what to do ("check your channel") is the reason's business. It stays unconfirmed when the
account is lost (whether the post is out does not change with the account).

An account is *lost* to a target (issue 8 item 2: tokens publish only what the
client queued) when it is disconnected, erased, unknown, or now held by a
client other than the post's (auth gives a disconnected account to whoever
connects that platform user next): :func:`account_loss`. A lost account's
targets are cancelled with the reason, never retried, dispatched or leased.

A result only counts for the attempt it reports and only while that attempt is
in flight, so duplicated, replayed or stale (older attempt) results change
nothing. Every decision returns a :class:`Change` (or ``None``) that the
caller persists together with its ``posts.status.v1`` event.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from uuid import UUID

from cachalot_common.events import AccountEventType, PublishResult, TargetStatus
from cachalot_common.platforms import find, is_wait, label_of

ALLOWED: Final[dict[TargetStatus, frozenset[TargetStatus]]] = {
    "scheduled": frozenset({"dispatched", "paused", "cancelled"}),
    "dispatched": frozenset(
        {"publishing", "published", "failed", "scheduled", "paused", "cancelled", "unconfirmed"}
    ),
    "publishing": frozenset(
        {"published", "failed", "scheduled", "paused", "cancelled", "unconfirmed"}
    ),
    "paused": frozenset({"scheduled", "cancelled"}),
    "failed": frozenset({"scheduled", "cancelled"}),
    "unconfirmed": frozenset({"published", "scheduled"}),
    "published": frozenset(),
    "cancelled": frozenset(),
}
IN_FLIGHT: Final = frozenset({"dispatched", "publishing"})
CANCELLABLE: Final = frozenset({"scheduled", "paused"})
LOST_WITH_ACCOUNT: Final = frozenset({"scheduled", "paused", "failed"})
"""Targets cancelled as soon as their account is lost (in-flight ones: at their result)."""
TERMINAL: Final = frozenset({"published", "cancelled"})
UNCONFIRMED: Final = "unconfirmed"
OUTCOME_UNKNOWN: Final = "outcome_unknown"
"""The code of an unknown outcome (``cachalot_publishing.outcome.OUTCOME_UNKNOWN``)."""
CONFIRMED_BY_CLIENT: Final = "confirmed_by_client"
CONSENT_REQUIRED: Final = "consent_required"
"""A result's code when auth refused the lease because the client has not confirmed 18+ and
given an email (privacy policy): the target pauses, the account is not marked for reconnection;
auth's ``connected`` event on consent resumes it."""
CHANNEL_CODES: Final = frozenset(
    {"channel_link_broken", "channel_not_linked", "channel_rights_lost"}
)
"""A Telegram account's channel cannot be posted to (our bot is no admin there, or no channel is
linked): publisher-telegram's codes. The target waits with the publisher's reason, which says
the fix (make the bot an admin, link a channel); nothing is wrong with the account's sign-in, so
it is not worded or marked as needing re-authorisation. Linking the channel emits ``connected``,
which resumes it."""
WAITS_FOR_CLIENT: Final = frozenset({CONSENT_REQUIRED, *CHANNEL_CODES})
NEEDS_CHANNEL: Final = "needs_channel"
"""An account status (auth's ``accounts.v1`` type, or a channel code on a result): a Telegram
account whose channel cannot be posted to. New posts to it are refused when queued, naming the
target; its pending targets wait (:data:`CHANNEL_PAUSE_REASON` unless auth gave the fix)."""
CHANNEL_PAUSE_REASON: Final = (
    "Telegram: link a channel to this account first: add our bot as an administrator of your "
    "channel with the right to post messages, then link the channel in the dashboard; the post "
    "then goes out."
)


def channel_problem(event_type: str, code: str | None) -> bool:
    """Whether an ``accounts.v1`` event says the account's channel (not its sign-in) is the
    problem: ``needs_channel``, or ``reauth_required`` with a channel code (older auth)."""
    return event_type == NEEDS_CHANNEL or (
        event_type == "reauth_required" and code in CHANNEL_CODES
    )


"""Pauses a client's act ends, not a re-authorisation: the reason is kept as the publisher gave
it and the account's projection stays ``connected``."""
NEEDS_MEDIA: Final[frozenset[TargetStatus]] = frozenset(
    {"scheduled", "dispatched", "publishing", "paused"}
)
"""States in which a target may still read its video: while one of a post's targets is in
one, the video cannot be deleted. The others (published, cancelled, failed) are final
for the file; a failed target whose video was deleted cannot be retried."""


def can_move(current: TargetStatus, new: TargetStatus) -> bool:
    return new in ALLOWED[current]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How retryable failures come back: capped exponential backoff with jitter."""

    max_attempts: int = 5
    base_s: float = 5.0
    max_s: float = 1800.0
    wait_deadline_s: float = 86400.0
    """How long after a budget's first dispatch platform-requested waits may go on (issue
    11): they use no attempt, so this bounds them instead."""

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
    waits: int = 0
    """Platform-requested waits in this budget (``cachalot_common.platforms.is_wait``)."""
    budget_started_at: datetime | None = None
    """The first dispatch of this budget (None before it, or from rows older than it)."""


# Which retryable results are the platform asking us to wait (a 429 with ``retry_after``, a
# used-up quota, flood control) is the registry's word (``PlatformSpec.is_wait``), the same the
# publishers raise ``outcome.wait`` by: such a result is not an attempt that went wrong, so it
# uses no attempt of the budget (five 429s in a row, or an Instagram quota shared by eight
# posts, must not fail a post the platform only delayed: issues 10 and 11), only time, up to
# ``RetryPolicy.wait_deadline_s`` after the budget's first dispatch.


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
    platform_wait: bool = False  # the platform asked to wait: counts no attempt

    @property
    def clears_error(self) -> bool:
        return self.status in {"published", "dispatched"}


@dataclass(frozen=True, slots=True)
class AccountView:
    """What the rules need to know about a target's account (the queue's projection)."""

    status: str  # the last accounts.v1 event type: connected, reauth_required, needs_channel,
    # revoked, deleted
    client_id: UUID


_LOSS_REASONS: Final = {
    "account_revoked": "The account was disconnected, so this post was cancelled.",
    "account_deleted": "The account was removed, so this post was cancelled.",
    "account_reassigned": "The account was disconnected and is now connected by someone else, "
    "so this post was cancelled; connect the account again to post there.",
    "account_unknown": "The account is not connected, so this post was cancelled.",
}


def account_loss(
    target_client: UUID, account: AccountView | None, reason: str | None = None
) -> Change | None:
    """The cancellation a target gets when its account is no longer its client's, else ``None``.

    Lost: no such account, ``revoked`` or ``deleted``, or held by another client
    now (re-assigned). An account that only needs re-authorisation is not lost
    (its targets pause). ``reason`` (from the account event) replaces the
    default text, except for a re-assignment, where it would be the new
    owner's business.
    """
    if account is None:
        code = "account_unknown"
    elif account.client_id != target_client:
        code, reason = "account_reassigned", None
    elif account.status in {"revoked", "deleted"}:
        code = f"account_{account.status}"
    else:
        return None
    return Change(status="cancelled", reason=reason or _LOSS_REASONS[code], code=code)


def on_result(
    target: TargetState,
    result: PublishResult,
    *,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random,
    loss: Change | None = None,
    connected_since_dispatch: bool = False,
) -> Change | None:
    """Decide what a publisher's result does to a target, or ``None`` if nothing.

    ``loss`` (from :func:`account_loss`): the account is no longer the post's
    client's, so any outcome but ``published`` (and progress) cancels the
    target instead of retrying, pausing or failing it.

    ``connected_since_dispatch``: an ``accounts.v1`` ``connected`` for the
    account was applied after this attempt was dispatched (the client gave
    consent, or reconnected, while it was in flight). A ``consent_required``
    result then reschedules the target at once instead of pausing it, since
    that event resumed only paused targets and would leave this one paused for
    good; if consent is still missing, the next attempt pauses it.
    """
    change = _on_result(target, result, policy=policy, now=now, rng=rng)
    if (
        connected_since_dispatch
        and change is not None
        and change.status == "paused"
        and change.code == CONSENT_REQUIRED
    ):
        change = Change(
            status="scheduled",
            reason="Consent was given while this was being sent; publishing resumes.",
            due_at=now,
        )
    if (
        loss is not None
        and change is not None
        and change.status in LOST_WITH_ACCOUNT
        and not change.touch_only
    ):
        return loss
    return change


def _on_result(
    target: TargetState,
    result: PublishResult,
    *,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random,
) -> Change | None:
    if result.attempt != target.attempt:
        return None
    if target.status == UNCONFIRMED and result.type == "published":
        pass  # a later status check found the post after all
    elif target.status not in IN_FLIGHT:
        return None
    name = label_of(target.platform)
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
    if result.type == "unknown" or result.code == OUTCOME_UNKNOWN:  # "failed" from older ones
        return unconfirmed(reason)
    if result.reauth_required and result.code in WAITS_FOR_CLIENT:
        return Change(
            status="paused",
            reason=reason,
            code=result.code,
            pause_account=True,  # the account's other scheduled targets wait too
            notify_operator=False,
        )
    if result.reauth_required:
        # the publisher's reason usually says it (cachalot_publishing.token.reauth_reason:
        # "TikTok: the account's authorisation is no longer valid. Reconnect TikTok …");
        # wrapped in ours it said it twice, the platform's name three times (issue 12).
        # A reason that does not say what to do is kept inside ours.
        must = f"{name}: the account must be reconnected before this can be published."
        said = (result.reason or "").strip()
        return Change(
            status="paused",
            reason=reason
            if "reconnect" in said.lower()
            else f"{must} ({reason})"
            if said
            else must,
            code=result.code or "reauth_required",
            pause_account=True,
            notify_operator=False,
        )
    if result.type == "retryable" and is_wait(target.platform, result.code):
        return _platform_wait(target, result, reason, policy=policy, now=now, rng=rng)
    if result.type == "retryable":
        used = target.attempt - target.budget_start - target.waits
        if used >= policy.max_attempts:
            return Change(
                status="failed",
                reason=f"{given_up(reason)} (gave up after {used} attempts)",
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


def _platform_wait(
    target: TargetState,
    result: PublishResult,
    reason: str,
    *,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random,
) -> Change:
    """The platform asked us to wait: scheduled again when its ``retry_after`` ends (our
    backoff when it gave none), using no attempt; failed once that would end past the deadline.

    The wait ends at the result's ``occurred_at + retry_after_s`` (the publisher's reading,
    :func:`cachalot_common.events.whole_second_wait`), never later than ``now + retry_after_s``
    (a publisher's clock ahead of ours), to the millisecond: an account's results for one
    rate-limit window end at one instant, whenever each was read, so ``due_query`` dispatches
    them together, oldest post first (fresh16: ended at ``now + retry_after_s``, 14 posts of
    one account came back in any order). A result read after its wait ended is due at once.

    A budget's first wait is granted when it is no longer than the deadline itself, even if it
    ends past it: a daily limit (YouTube's upload limit: 24 h) is waited out once."""
    used = target.attempt - target.budget_start - target.waits - 1  # this one is no attempt
    if result.retry_after_s is None:
        due = now + timedelta(seconds=policy.delay(max(1, used), None, rng))
    else:
        asked = timedelta(seconds=result.retry_after_s)
        due = _to_millisecond(min(result.occurred_at + asked, now + asked))
    delay = max(0.0, (due - now).total_seconds())
    started = target.budget_started_at or now
    deadline = started + timedelta(seconds=policy.wait_deadline_s)
    first = target.waits == 0 and delay <= policy.wait_deadline_s
    if due > deadline and not first:
        hours = policy.wait_deadline_s / 3600
        why = (
            f"the platform kept asking us to wait for more than {hours:g} h since the first attempt"
            if target.waits
            else f"the platform asked us to wait {delay / 3600:.3g} h, longer than the "
            f"{hours:g} h we wait for a post"
        )
        return Change(
            status="failed",
            reason=f"{given_up(reason)} (gave up: {why})",
            code=result.code or "rate_limited",
            notify_operator=True,
        )
    return Change(
        status="scheduled",
        reason=f"{reason} (the platform asked us to wait; next in {delay:.0f} s; this uses "
        "no attempt)",
        code=result.code,
        due_at=due,
        platform_wait=True,
    )


_WHAT_NEXT = re.compile(
    r"[;,]?\s*(?:(?:it|the \w+|we) )?will (?:be retried|retry|resume|try again|start again)"
    r"\b[^.]*\.?\s*$"
)


def given_up(reason: str) -> str:
    """``reason`` without the publisher's word of what comes next ("…; will retry."), for a
    target the queue gives up on: it will not retry (fresh17: "… will resume. (gave up …)")."""
    trimmed = _WHAT_NEXT.sub("", reason).rstrip()
    if not trimmed:
        return reason
    return trimmed if trimmed.endswith((".", "!", "?")) else trimmed + "."


def _to_millisecond(moment: datetime) -> datetime:
    """``moment`` rounded to the nearest millisecond (float seconds' noise taken off)."""
    rounded = moment + timedelta(microseconds=500)
    return rounded.replace(microsecond=rounded.microsecond // 1000 * 1000)


def unconfirmed(reason: str) -> Change:
    """The attempt may have posted and cannot be looked up: the client checks (module doc)."""
    return Change(status="unconfirmed", reason=reason, code=OUTCOME_UNKNOWN)


def no_answer(platform: str, checks: int) -> Change:
    """A target whose publisher stayed silent through ``checks`` status checks.

    Failed (``no_answer``) where the platform can look a post up: had the publisher been
    there, a check would have settled it. Where it cannot (``looks_up_posts`` false), the
    publisher may have posted before it went silent: ``unconfirmed``, for the client to check.
    """
    spec = find(platform)
    name = label_of(platform)
    if spec is not None and not spec.looks_up_posts:
        return unconfirmed(
            f"{name}: we could not confirm whether the post went out (the publisher did not "
            f"report back after {checks} status checks). Look on {name}: if the post is there, "
            "mark it as published; if it is not, publish it again."
        )
    return Change(
        status="failed",
        reason=f"{name}: the publisher did not report back after {checks} status checks; "
        "check the account on the platform, then retry.",
        code="no_answer",
        notify_operator=True,
    )


def confirmed_by_client(url: str | None) -> Change:
    """The client saw the post on the platform ("mark as published"), at ``url`` if given."""
    return Change(
        status="published",
        reason="Marked as published by the client.",
        code=CONFIRMED_BY_CLIENT,
        remote_url=url,
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
    event_type: AccountEventType,
    status: TargetStatus,
    reason: str | None,
    *,
    reassigned: bool = False,
    code: str | None = None,
) -> Change | None:
    """What an account's change does to one of its targets.

    ``code``: the event's. ``needs_channel`` (or ``reauth_required`` with a channel code, as
    older auth sent it): a Telegram channel our bot cannot post to or none linked; the target
    pauses with that code (``channel_not_linked`` when none) and auth's reason, the fix, not a
    reconnect.

    ``reassigned``: the event names another client than the target's (the
    account changed hands), so the target is lost whatever the event says.
    """
    if reassigned or event_type in {"revoked", "deleted"}:
        if status not in LOST_WITH_ACCOUNT:
            return None
        kind = "reassigned" if reassigned else event_type
        return Change(
            status="cancelled",
            reason=(None if reassigned else reason) or _LOSS_REASONS[f"account_{kind}"],
            code=f"account_{kind}",
        )
    if channel_problem(event_type, code) and status == "scheduled":
        broken = code == "channel_link_broken"
        return Change(
            status="paused",
            reason=reason
            or (
                "Telegram: our bot cannot post in the linked channel; make it an "
                "administrator of the channel and link the channel again."
                if broken
                else CHANNEL_PAUSE_REASON
            ),
            code=code if code in CHANNEL_CODES else "channel_not_linked",
        )
    if event_type == "reauth_required" and status == "scheduled":
        return Change(
            status="paused",
            reason=reason or "The account must be reconnected before this can be published.",
            code="reauth_required",
        )
    if event_type == "connected" and status == "paused":
        return Change(
            status="scheduled", reason=reason or "Account reconnected; publishing resumes."
        )
    return None
