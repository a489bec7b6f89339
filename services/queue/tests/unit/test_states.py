"""The per-target state machine decides every transition; these are its rules."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cachalot_common import platforms
from cachalot_common.events import AccountEventType, PublishResult
from cachalot_queue.states import (
    ALLOWED,
    AccountView,
    RetryPolicy,
    TargetState,
    account_loss,
    can_move,
    confirmed_by_client,
    no_answer,
    on_account,
    on_result,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, base_s=10, max_s=100)


def result(type_: str, attempt: int = 1, **fields: Any) -> PublishResult:
    return PublishResult(
        type=type_,  # type: ignore[arg-type]
        post_id=uuid.uuid4(),
        target_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        platform="tiktok",
        attempt=attempt,
        **fields,
    )


def target(status: str = "dispatched", attempt: int = 1, **fields: Any) -> TargetState:
    values: dict[str, Any] = {"budget_start": 0, "platform": "tiktok", **fields}
    return TargetState(status=status, attempt=attempt, **values)  # type: ignore[arg-type]


def decide(state: TargetState, event: PublishResult) -> Any:
    return on_result(state, event, policy=POLICY, now=NOW, rng=random.Random(1))


def test_terminal_states_have_no_way_out() -> None:
    assert ALLOWED["published"] == frozenset()
    assert ALLOWED["cancelled"] == frozenset()
    assert not can_move("published", "scheduled")
    assert can_move("failed", "scheduled"), "a person may retry a failure"


def test_first_progress_moves_a_dispatched_target_to_publishing() -> None:
    change = decide(target(), result("progress", bytes_sent=5, bytes_total=10))
    assert change.status == "publishing"
    assert not change.touch_only
    assert change.bytes_sent == 5


def test_later_progress_only_updates_bytes_and_never_goes_backwards() -> None:
    publishing = target("publishing", bytes_sent=5)
    assert decide(publishing, result("progress", bytes_sent=8)).touch_only
    assert decide(publishing, result("progress", bytes_sent=3)) is None
    assert decide(publishing, result("progress", bytes_sent=5)) is None


def test_a_result_for_an_older_attempt_changes_nothing() -> None:
    for kind in ("progress", "published", "failed", "retryable"):
        assert decide(target(attempt=2), result(kind, attempt=1, bytes_sent=1)) is None


def test_a_result_for_a_target_not_in_flight_changes_nothing() -> None:
    for status in ("scheduled", "published", "failed", "cancelled", "paused"):
        assert decide(target(status), result("published")) is None


def test_published_keeps_the_remote_id_and_url() -> None:
    change = decide(target(), result("published", remote_id="v1", remote_url="https://x/v1"))
    assert (change.status, change.remote_id, change.remote_url) == (
        "published",
        "v1",
        "https://x/v1",
    )


def test_retryable_schedules_the_next_attempt_with_backoff() -> None:
    change = decide(target(), result("retryable", code="http_503", reason="TikTok answered 503"))
    assert change.status == "scheduled"
    delay = (change.due_at - NOW).total_seconds()
    assert 5 <= delay <= 10
    assert "TikTok answered 503" in change.reason
    assert not change.notify_operator


def test_retryable_honours_the_platforms_retry_after() -> None:
    change = decide(target(), result("retryable", retry_after_s=60))
    assert change.due_at == NOW + timedelta(seconds=60)


def test_retryable_past_the_attempt_cap_fails_and_tells_the_operator() -> None:
    change = decide(target(attempt=3), result("retryable", attempt=3, reason="still 503"))
    assert change.status == "failed"
    assert change.notify_operator
    assert "gave up after 3 attempts" in change.reason


def test_a_manual_retry_gives_a_fresh_attempt_budget() -> None:
    change = decide(target(attempt=4, budget_start=3), result("retryable", attempt=4))
    assert change.status == "scheduled"


def test_a_permanent_failure_keeps_a_reason_a_person_can_act_on() -> None:
    reason = "this account may only post privately until the app is audited"
    change = decide(target(), result("failed", code="unaudited", reason=reason))
    assert change.status == "failed"
    assert change.reason == f"TikTok: {reason}"
    assert change.notify_operator


def test_a_failure_without_a_reason_still_says_something_useful() -> None:
    change = decide(target(), result("failed", code="internal"))
    assert "internal" in change.reason


def test_a_dead_token_pauses_the_target_and_its_account() -> None:
    change = decide(target("publishing"), result("failed", reauth_required=True))
    assert change.status == "paused"
    assert change.pause_account
    assert not change.notify_operator


def test_a_dead_tokens_pause_says_to_reconnect_once_in_the_publishers_words() -> None:
    said = (  # cachalot_publishing.token.reauth_reason("TikTok")
        "TikTok: the account's authorisation is no longer valid. Reconnect TikTok "
        "(and allow posting videos)."
    )
    change = decide(target("publishing"), result("failed", reason=said, reauth_required=True))
    assert (change.status, change.reason) == ("paused", said)
    assert change.reason.count("TikTok:") == 1
    bare = decide(target("publishing"), result("failed", reauth_required=True))
    assert bare.reason == "TikTok: the account must be reconnected before this can be published."


def test_missing_consent_pauses_with_its_own_code_and_the_persons_reason() -> None:
    reason = "TikTok: not posted yet. Confirm in the dashboard that you are 18 or over."
    change = decide(
        target("dispatched"),
        result("failed", code="consent_required", reason=reason, reauth_required=True),
    )
    assert (change.status, change.code, change.reason) == ("paused", "consent_required", reason)
    assert change.pause_account
    assert not change.notify_operator


@pytest.mark.parametrize("code", ["channel_link_broken", "channel_not_linked"])
def test_a_telegram_channel_problem_pauses_with_the_fix_not_a_reconnect(code: str) -> None:
    reason = (
        "Telegram: our bot cannot post in your channel: add @cachalot_bot as an administrator "
        "of the channel with the right to post messages, then link the channel again."
    )
    change = decide(
        target("dispatched", platform="telegram"),
        result("failed", code=code, reason=reason, reauth_required=True),
    )
    assert (change.status, change.code) == ("paused", code)
    assert change.reason == reason
    assert "reconnect" not in (change.reason or "").lower()
    assert change.pause_account
    assert not change.notify_operator


@pytest.mark.parametrize("event", ["needs_channel", "reauth_required"])
def test_a_broken_channel_event_pauses_scheduled_targets_with_its_own_code_and_the_fix(
    event: AccountEventType,
) -> None:
    fix = "Our bot cannot post in your Telegram channel: make it an administrator."
    change = on_account(event, "scheduled", fix, code="channel_link_broken")
    assert change is not None
    assert (change.status, change.code, change.reason) == ("paused", "channel_link_broken", fix)


def test_a_needs_channel_event_without_a_code_pauses_saying_to_link_a_channel() -> None:
    change = on_account("needs_channel", "scheduled", None)
    assert change is not None
    assert (change.status, change.code) == ("paused", "channel_not_linked")
    assert "link" in (change.reason or "")
    assert "reconnect" not in (change.reason or "").lower()


def test_missing_consent_reported_after_consent_was_given_in_flight_reschedules_at_once() -> None:
    change = on_result(
        target("dispatched"),
        result("failed", code="consent_required", reason="no consent", reauth_required=True),
        policy=POLICY,
        now=NOW,
        rng=random.Random(1),
        connected_since_dispatch=True,
    )
    assert change is not None
    assert (change.status, change.due_at) == ("scheduled", NOW)


def test_a_connected_event_resumes_a_paused_target_with_the_events_reason() -> None:
    change = on_account("connected", "paused", "Consent given; publishing resumes.")
    assert change is not None
    assert (change.status, change.reason) == ("scheduled", "Consent given; publishing resumes.")


@pytest.mark.parametrize(
    ("event", "status", "expected"),
    [
        ("reauth_required", "scheduled", "paused"),
        ("reauth_required", "dispatched", None),
        ("connected", "paused", "scheduled"),
        ("connected", "scheduled", None),
        ("revoked", "scheduled", "cancelled"),
        ("revoked", "paused", "cancelled"),
        ("deleted", "scheduled", "cancelled"),
        ("deleted", "published", None),
        ("revoked", "publishing", None),
        ("revoked", "failed", "cancelled"),
        ("revoked", "cancelled", None),
    ],
)
def test_account_events_pause_resume_or_cancel_pending_targets(
    event: str, status: str, expected: str | None
) -> None:
    change = on_account(event, status, None)  # type: ignore[arg-type]
    assert (change.status if change else None) == expected


def test_backoff_grows_exponentially_within_its_cap() -> None:
    rng = random.Random(7)
    policy = RetryPolicy(max_attempts=10, base_s=1, max_s=30)
    delays = [policy.delay(n, None, rng) for n in range(1, 9)]
    for n, delay in enumerate(delays, start=1):
        step = min(30, 2 ** (n - 1))
        assert step / 2 <= delay <= step


# --- an account lost to the post's client (issue 8 item 2) --------------------------------

ALICE, BOB = uuid.uuid4(), uuid.uuid4()


@pytest.mark.parametrize(
    ("account", "code"),
    [
        (AccountView("connected", ALICE), None),
        (AccountView("reauth_required", ALICE), None),  # paused, not lost
        (AccountView("revoked", ALICE), "account_revoked"),
        (AccountView("deleted", ALICE), "account_deleted"),
        (AccountView("connected", BOB), "account_reassigned"),
        (AccountView("reauth_required", BOB), "account_reassigned"),
        (None, "account_unknown"),
    ],
)
def test_an_account_is_lost_to_a_post_unless_its_client_still_holds_it(
    account: AccountView | None, code: str | None
) -> None:
    loss = account_loss(ALICE, account)
    assert (loss.code if loss else None) == code
    if loss is not None:
        assert loss.status == "cancelled"
        assert loss.reason


def test_a_reassignment_never_shows_the_new_owners_reason_to_the_old_owner() -> None:
    loss = account_loss(ALICE, AccountView("connected", BOB), reason="Bob's business")
    assert loss is not None
    assert "Bob" not in (loss.reason or "")
    assert "someone else" in (loss.reason or "")


@pytest.mark.parametrize("status", ["scheduled", "paused", "failed"])
def test_any_event_naming_another_client_cancels_the_previous_clients_waiting_targets(
    status: str,
) -> None:
    for event in ("connected", "reauth_required", "revoked"):
        change = on_account(event, status, "why", reassigned=True)  # type: ignore[arg-type]
        assert change is not None
        assert (change.status, change.code) == ("cancelled", "account_reassigned")


@pytest.mark.parametrize("status", ["dispatched", "publishing", "published", "cancelled"])
def test_a_reassignment_leaves_in_flight_and_final_targets_to_their_results(status: str) -> None:
    assert on_account("connected", status, None, reassigned=True) is None  # type: ignore[arg-type]


def test_a_failed_target_may_be_cancelled_but_a_cancelled_one_never_comes_back() -> None:
    assert can_move("failed", "cancelled")
    assert not can_move("cancelled", "scheduled")


@pytest.mark.parametrize(
    ("outcome", "fields"),
    [
        ("retryable", {"code": "rate_limit"}),
        ("failed", {"code": "lease_refused"}),
        ("failed", {"code": "revoked", "reauth_required": True}),
    ],
)
def test_a_result_for_a_target_whose_account_is_lost_cancels_it(
    outcome: str, fields: dict[str, Any]
) -> None:
    loss = account_loss(ALICE, AccountView("connected", BOB))
    change = on_result(
        target(), result(outcome, **fields), policy=POLICY, now=NOW, rng=random.Random(1), loss=loss
    )
    assert change == loss
    assert not change.pause_account


def test_a_published_result_still_counts_when_the_account_is_lost_meanwhile() -> None:
    loss = account_loss(ALICE, AccountView("revoked", ALICE))
    change = on_result(
        target(), result("published", remote_id="v1"), policy=POLICY, now=NOW,
        rng=random.Random(1), loss=loss,
    )  # fmt: skip
    assert change is not None
    assert change.status == "published"


# --- unconfirmed: the outcome nobody can look up (issue 10) ----------------------------


def test_an_unknown_outcome_leaves_the_target_unconfirmed_not_failed_and_tells_no_operator() -> (
    None
):
    reason = "Telegram: we could not confirm whether the post went out. Check your channel."
    change = decide(
        target("publishing", platform="telegram"),
        result("unknown", code="outcome_unknown", reason=reason),
    )
    assert (change.status, change.code, change.reason) == ("unconfirmed", "outcome_unknown", reason)
    assert not change.notify_operator
    assert not change.pause_account


def test_an_unknown_outcome_sent_as_failed_by_an_older_publisher_is_unconfirmed_too() -> None:
    change = decide(target(platform="telegram"), result("failed", code="outcome_unknown"))
    assert change.status == "unconfirmed"


def test_an_unconfirmed_target_is_published_or_queued_again_only() -> None:
    assert ALLOWED["unconfirmed"] == frozenset({"published", "scheduled"})
    assert can_move("publishing", "unconfirmed")
    assert can_move("dispatched", "unconfirmed")
    assert not can_move("scheduled", "unconfirmed")


def test_an_unconfirmed_target_is_never_retried_by_a_retryable_or_failed_result() -> None:
    for kind in ("retryable", "failed", "progress", "unknown"):
        assert decide(target("unconfirmed"), result(kind, bytes_sent=1)) is None


def test_a_later_published_result_for_the_same_attempt_settles_an_unconfirmed_target() -> None:
    change = decide(target("unconfirmed"), result("published", remote_id="m1"))
    assert (change.status, change.remote_id) == ("published", "m1")
    assert decide(target("unconfirmed", attempt=2), result("published", attempt=1)) is None


def test_an_unknown_outcome_stays_unconfirmed_when_the_account_is_lost_meanwhile() -> None:
    loss = account_loss(uuid.uuid4(), None)
    change = on_result(
        target(platform="telegram"),
        result("unknown", code="outcome_unknown"),
        policy=POLICY,
        now=NOW,
        rng=random.Random(1),
        loss=loss,
    )
    assert change.status == "unconfirmed"


def test_the_client_marking_it_published_keeps_the_link_it_gave() -> None:
    change = confirmed_by_client("https://t.me/c/1/2")
    assert (change.status, change.remote_url, change.code) == (
        "published",
        "https://t.me/c/1/2",
        "confirmed_by_client",
    )


def test_silence_through_every_check_is_unconfirmed_where_the_platform_cannot_look_posts_up() -> (
    None
):
    telegram = no_answer("telegram", 3)
    assert telegram.status == "unconfirmed"
    assert not telegram.notify_operator
    assert "fail" not in (telegram.reason or "").lower()
    youtube = no_answer("youtube", 3)
    assert (youtube.status, youtube.code) == ("failed", "no_answer")
    assert youtube.notify_operator


# --- waits the platform asked for use no attempt (issue 11) -----------------------------


def test_five_platform_waits_in_a_row_use_no_attempt_and_the_post_is_still_tried() -> None:
    started = NOW - timedelta(minutes=30)
    for attempt in range(1, 6):  # five 429s in a row, with max_attempts 3
        state = target(attempt=attempt, waits=attempt - 1, budget_started_at=started)
        change = decide(
            state, result("retryable", attempt=attempt, code="rate_limited", retry_after_s=60)
        )
        assert change.status == "scheduled", attempt
        assert change.platform_wait
        assert change.due_at == NOW + timedelta(seconds=60)
        assert "uses no attempt" in change.reason
    # then an ordinary failure still has its whole budget: the first of three
    state = target(attempt=6, waits=5, budget_started_at=started)
    assert decide(state, result("retryable", attempt=6, code="http_503")).status == "scheduled"


@pytest.mark.parametrize(("platform", "code"), sorted(platforms.wait_codes()))
def test_every_wait_a_publisher_may_send_uses_no_attempt_and_the_post_is_still_tried(
    platform: str, code: str
) -> None:
    """Each (platform, code) the registry declares a wait, as the publishers raise them with
    ``outcome.wait``: Instagram's ``publishing_quota_used``, YouTube's quotas, every 429."""
    started = NOW - timedelta(minutes=30)
    for attempt in range(1, 6):  # five waits in a row, with max_attempts 3
        state = target(
            attempt=attempt, waits=attempt - 1, budget_started_at=started, platform=platform
        )
        event = result("retryable", attempt=attempt, code=code, retry_after_s=30)
        change = decide(state, event)
        assert (change.status, change.platform_wait) == ("scheduled", True), (attempt, change)
        assert change.due_at == NOW + timedelta(seconds=30)
        assert "uses no attempt" in change.reason


def test_a_daily_limit_as_long_as_the_whole_deadline_is_waited_out_once() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=10, max_s=100, wait_deadline_s=86400)
    event = result("retryable", code="upload_limit_exceeded", retry_after_s=86400)
    state = target(platform="youtube", budget_started_at=NOW - timedelta(seconds=5))
    first = on_result(state, event, policy=policy, now=NOW, rng=random.Random(1))
    assert (first.status, first.platform_wait) == ("scheduled", True)
    again = target(platform="youtube", attempt=2, waits=1, budget_started_at=NOW)
    later = NOW + timedelta(days=1)
    second = on_result(
        again,
        result("retryable", attempt=2, code="upload_limit_exceeded", retry_after_s=86400),
        policy=policy,
        now=later,
        rng=random.Random(1),
    )
    assert (second.status, second.code) == ("failed", "upload_limit_exceeded")


def test_platform_waits_end_in_a_failure_past_the_total_deadline() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=10, max_s=100, wait_deadline_s=3600)
    state = target(attempt=2, waits=1, budget_started_at=NOW - timedelta(minutes=50))
    short = on_result(
        state,
        result("retryable", attempt=2, code="rate_limited", retry_after_s=300),
        policy=policy,
        now=NOW,
        rng=random.Random(1),
    )
    assert short.status == "scheduled"
    long = on_result(
        state,
        result("retryable", attempt=2, code="rate_limited", retry_after_s=900),
        policy=policy,
        now=NOW,
        rng=random.Random(1),
    )
    assert (long.status, long.code) == ("failed", "rate_limited")
    assert "more than 1 h" in long.reason
    assert long.notify_operator


def test_other_retryable_results_still_count_against_the_attempt_budget() -> None:
    state = target(attempt=3, waits=0)
    change = decide(state, result("retryable", attempt=3, code="network", retry_after_s=10))
    assert change.status == "failed"
    assert not change.platform_wait


def test_a_post_given_up_on_does_not_say_it_will_be_tried_again() -> None:
    # fresh17: "TikTok is still receiving an earlier part of the upload; will resume.
    # (gave up after 5 attempts)"
    for said in (
        "TikTok is still receiving an earlier part of the upload; will resume.",
        "TikTok answered 503; will retry.",
        "VK is busy; will retry in a minute.",
        "YouTube did not accept the upload for now (Backend Error); it will be retried.",
        "YouTube's daily quota is used up; the upload will be retried after it resets at "
        "midnight Pacific time.",
        "VK's flood control stopped this account for now (too many similar actions)",
    ):
        change = decide(target(attempt=3), result("retryable", attempt=3, reason=said))
        assert change.status == "failed"
        assert "will " not in change.reason, change.reason
        assert change.reason.endswith(". (gave up after 3 attempts)"), change.reason
    kept = decide(target(), result("retryable", reason="TikTok answered 503; will retry."))
    assert "will retry" in kept.reason, "while it will, it says so"


def test_one_wait_longer_than_the_deadline_says_so_not_that_the_platform_kept_asking() -> None:
    # fresh17: a first wait of a week failed "the platform kept asking us to wait"
    policy = RetryPolicy(max_attempts=3, base_s=10, max_s=100, wait_deadline_s=3600)
    once = on_result(
        target(budget_started_at=NOW),
        result("retryable", code="rate_limited", retry_after_s=7200, reason="limit; will retry."),
        policy=policy,
        now=NOW,
        rng=random.Random(1),
    )
    assert once.status == "failed"
    assert "asked us to wait 2 h, longer than the 1 h we wait" in once.reason, once.reason
    assert "kept asking" not in once.reason
    assert "will retry" not in once.reason
