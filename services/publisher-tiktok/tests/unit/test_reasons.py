"""TikTok's answers become outcomes a person (and the queue) can act on."""

from __future__ import annotations

from cachalot_publisher_tiktok import reasons
from cachalot_publisher_tiktok.tiktok import TikTokApiError, TikTokUnreachable


def test_rate_limits_server_errors_and_network_trouble_are_retryable() -> None:
    for error in (
        TikTokApiError(429, "rate_limit_exceeded", ""),
        TikTokApiError(503, "internal_error", ""),
        TikTokUnreachable("upload: ReadError"),
    ):
        outcome = reasons.from_api_error(error)
        assert outcome.kind == "retryable"
        assert (outcome.retry_after_s or 0) > 0


def test_an_unaudited_app_is_told_to_post_privately() -> None:
    outcome = reasons.from_api_error(
        TikTokApiError(403, "unaudited_client_can_only_post_to_private_accounts", "")
    )
    assert outcome.kind == "failed"
    assert "until the app is audited" in outcome.reason


def test_an_internal_processing_failure_is_retried_and_others_are_explained() -> None:
    assert reasons.from_fail_reason("internal").kind == "retryable"
    assert reasons.from_fail_reason("auth_removed").kind == "reauth"
    frame_rate = reasons.from_fail_reason("frame_rate_check_failed")
    assert frame_rate.kind == "failed"
    assert "23–60 frames per second" in frame_rate.reason
    assert "something_new" in reasons.from_fail_reason("something_new").reason


def test_a_privacy_level_not_offered_names_what_is_offered() -> None:
    outcome = reasons.privacy_not_offered(
        "PUBLIC_TO_EVERYONE", ("FOLLOWER_OF_CREATOR", "SELF_ONLY")
    )
    assert "“Everyone”" in outcome.reason
    assert "“Followers”, “Only me”" in outcome.reason


def test_a_video_too_long_says_how_long_it_is_and_may_be() -> None:
    outcome = reasons.too_long(750.0, 600)
    assert "12:30 min" in outcome.reason
    assert "10:00 min" in outcome.reason
