"""TikTok's answers become outcomes a person (and the queue) can act on."""

from __future__ import annotations

from typing import Any

from cachalot_common.events import TikTokOptions
from cachalot_publisher_tiktok import reasons
from cachalot_publisher_tiktok.tiktok import CreatorInfo, TikTokApiError, TikTokUnreachable


def test_rate_limits_are_waits_and_server_errors_and_network_trouble_are_retryable() -> None:
    for error, kind in (
        (TikTokApiError(429, "rate_limit_exceeded", ""), "wait"),
        (TikTokApiError(503, "internal_error", ""), "retryable"),
        (TikTokUnreachable("upload: ReadError"), "retryable"),
    ):
        outcome = reasons.from_api_error(error)
        assert outcome.kind == kind
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


def _creator(**changes: Any) -> CreatorInfo:
    base: dict[str, Any] = {
        "username": "creator",
        "privacy_level_options": ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"),
        "max_video_post_duration_sec": 60,
        "comment_disabled": False,
        "duet_disabled": False,
        "stitch_disabled": False,
    }
    return CreatorInfo(**{**base, **changes})


def _choice(**changes: Any) -> TikTokOptions:
    return TikTokOptions(**{"privacy_level": "PUBLIC_TO_EVERYONE", **changes})


def test_choices_the_account_allows_now_pass_the_creator_info_check() -> None:
    assert reasons.against_creator_info(_choice(), _creator(), duration_s=59, photo=False) is None


def test_branded_content_posted_privately_fails_before_tiktok_is_asked() -> None:
    ending = reasons.against_creator_info(
        _choice(privacy_level="SELF_ONLY", brand_content_toggle=True),
        _creator(),
        duration_s=None,
        photo=False,
    )
    assert ending is not None
    assert (ending.kind, ending.code) == ("failed", "branded_content_private")
    assert "cannot be posted as “Only me”" in ending.reason


def test_allowing_what_the_creator_turned_off_fails_naming_each_interaction() -> None:
    creator = _creator(comment_disabled=True, stitch_disabled=True)
    ending = reasons.against_creator_info(_choice(), creator, duration_s=1, photo=False)
    assert ending is not None
    assert (ending.kind, ending.code) == ("failed", "interaction_turned_off")
    assert "turned off comments and stitches in the TikTok app" in ending.reason
    chose_off = _choice(disable_comment=True, disable_stitch=True)
    assert reasons.against_creator_info(chose_off, creator, duration_s=1, photo=False) is None


def test_a_photo_post_is_held_to_comments_only_and_to_no_duration() -> None:
    creator = _creator(duet_disabled=True, stitch_disabled=True, max_video_post_duration_sec=1)
    assert reasons.against_creator_info(_choice(), creator, duration_s=None, photo=True) is None
    off = _creator(comment_disabled=True)
    ending = reasons.against_creator_info(_choice(), off, duration_s=None, photo=True)
    assert ending is not None
    assert ending.code == "interaction_turned_off"


def test_a_video_longer_than_the_creator_may_post_and_a_level_not_offered_fail() -> None:
    too_long = reasons.against_creator_info(_choice(), _creator(), duration_s=61, photo=False)
    assert too_long is not None
    assert too_long.code == "video_too_long"
    private_account = _creator(privacy_level_options=("FOLLOWER_OF_CREATOR", "SELF_ONLY"))
    level = reasons.against_creator_info(_choice(), private_account, duration_s=1, photo=False)
    assert level is not None
    assert level.code == "privacy_level_not_offered"
