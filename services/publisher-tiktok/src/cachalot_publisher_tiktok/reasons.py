"""What went wrong, in words a person can act on, and whether to try again.

TikTok's error codes and ``fail_reason`` values become an
:class:`~cachalot_publishing.outcome.Outcome` with the codes every platform
shares (``network``, ``platform_unavailable``, ``rate_limited``,
``reauth_required``...); causes only TikTok has keep TikTok's own code
(``spam_risk_too_many_posts``, ``frame_rate_check_failed``...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cachalot_common.events import CreatorInfoFacts, TikTokOptions
from cachalot_common.platforms import label_of
from cachalot_common.platforms.spec import AccountFacts, Content
from cachalot_common.platforms.tiktok import PRIVACY_NAMES, within_creator_info
from cachalot_publisher_tiktok.tiktok import CreatorInfo, TikTokApiError, TikTokUnreachable
from cachalot_publishing import outcome
from cachalot_publishing.outcome import Outcome, failed, reauth, retryable
from cachalot_publishing.token import reauth_reason

LABEL: Final = label_of("tiktok")  # the registry's


PERMANENT: dict[str, str] = {
    "unaudited_client_can_only_post_to_private_accounts": (
        "TikTok: this account may only post privately (“Only me”) until the app is audited "
        "by TikTok. Choose “Only me” as the privacy level and queue the post again."
    ),
    "privacy_level_option_mismatch": (
        "TikTok: the chosen privacy level is not available for this account. "
        "Choose one the account offers and queue the post again."
    ),
    "spam_risk_too_many_posts": (
        "TikTok: this account has reached its daily posting limit. Try again tomorrow."
    ),
    "spam_risk_user_banned_from_posting": (
        "TikTok: this account is currently banned from posting. Check the account in the "
        "TikTok app."
    ),
    "reached_active_user_cap": (
        "TikTok: the app has reached its daily cap of posting users. Try again tomorrow."
    ),
    "file_format_check_failed": (
        "TikTok could not read the video format. Upload an MP4 (H.264) and queue it again."
    ),
    "duration_check_failed": (
        "TikTok rejected the video's length for this account. Trim the video and queue it again."
    ),
    "frame_rate_check_failed": (
        "TikTok accepts 23–60 frames per second. Re-export the video and queue it again."
    ),
    "picture_size_check_failed": (
        "TikTok accepts 360–4096 pixels on each side. Re-export the video and queue it again."
    ),
    "publish_cancelled": "The post was cancelled on TikTok.",
    "spam_risk_text": "TikTok flagged the caption as spam. Change the caption and queue it again.",
    "spam_risk": "TikTok flagged this post as a spam risk and did not publish it.",
    "invalid_file_upload": "TikTok refused the uploaded file. Upload the video again.",
}

# TikTok's codes for "the account's authorisation is gone" (all reported as reauth_required)
REAUTH = {"access_token_invalid", "scope_not_authorized", "scope_permission_missed", "auth_removed"}
REAUTH_REASON = reauth_reason(LABEL)

__all__ = [
    "Outcome",
    "against_creator_info",
    "from_api_error",
    "from_fail_reason",
    "privacy_not_offered",
    "too_long",
]


def _reauth(tiktok_code: str) -> Outcome:
    return reauth(f"{REAUTH_REASON} (TikTok said {tiktok_code}.)")


def from_api_error(error: TikTokApiError | TikTokUnreachable) -> Outcome:
    """The outcome of a TikTok call that failed (after any token refresh)."""
    if isinstance(error, TikTokUnreachable):
        return outcome.network(LABEL, str(error))
    if error.status == 429 or error.code == "rate_limit_exceeded":
        return outcome.rate_limited(LABEL, error.retry_after or 60)
    if error.status >= 500 or error.code == "internal_error":
        return outcome.unavailable(LABEL, error.status, error.retry_after or 30)
    if error.code in REAUTH:
        return _reauth(error.code)
    if error.code in PERMANENT:
        return failed(error.code, PERMANENT[error.code])
    detail = f": {error.message}" if error.message else ""
    return failed(error.code, f"TikTok refused the post ({error.code}){detail}")


def from_fail_reason(fail_reason: str | None) -> Outcome:
    """The outcome of a publish that TikTok reports as FAILED."""
    code = fail_reason or "unknown"
    if code == "internal":
        return retryable(
            outcome.PLATFORM_UNAVAILABLE, "TikTok failed to process the video; will retry.", 60
        )
    if code in REAUTH:
        return _reauth(code)
    reason = PERMANENT.get(code, f"TikTok did not publish the video (reason: {code}).")
    return failed(code, reason)


def privacy_not_offered(chosen: str, offered: tuple[str, ...]) -> Outcome:
    names = ", ".join(f"“{PRIVACY_NAMES.get(o, o)}”" for o in offered) or "none"
    return failed(
        "privacy_level_not_offered",
        f"TikTok: this account does not offer the privacy level "
        f"“{PRIVACY_NAMES.get(chosen, chosen)}” (it offers {names}). "
        "Choose one of those and queue the post again.",
    )


def too_long(duration_s: float, max_s: int) -> Outcome:
    return failed(
        "video_too_long",
        f"TikTok: this video is {_clock(duration_s)} long, but this account may post videos "
        f"of at most {_clock(max_s)}. Trim the video and queue it again.",
    )


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}:{whole % 60:02d} min"


@dataclass(frozen=True, slots=True)
class _Length:
    """A video's facts as the registry's account check reads them: its length only."""

    duration_sec: float | None
    size: int = 0
    content_type: str = "video/mp4"
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    video_codec: str | None = None


_TURNED_OFF: Final = (
    ("disable_comment", "comments"),
    ("disable_duet", "duets"),
    ("disable_stitch", "stitches"),
)


def against_creator_info(
    options: TikTokOptions, info: CreatorInfo, *, duration_s: float | None, photo: bool
) -> Outcome | None:
    """Why the person's choices cannot be posted to this account as it is now, or ``None``.

    Checked against ``creator_info`` before ``init`` (live, or kept up to 30 s per account
    when it allows the post: :mod:`cachalot_publisher_tiktok.creators`), so that the target
    fails with what to change rather than with TikTok's refusal (shared/reference/platforms.md
    §1.2, creator_info and the Direct Post UX rules). What is refused is the platform
    registry's one check (:func:`cachalot_common.platforms.tiktok.within_creator_info`, the
    queue's at queue time, here with TikTok's answer): a privacy level not offered, an
    interaction the creator turned off (duets and stitches: videos only), a video longer
    than the creator may post (``duration_s`` in seconds, ``None`` when unknown). This adds
    the outcome's code and the words for the person, and branded content that cannot be
    ``SELF_ONLY``.
    """
    facts = CreatorInfoFacts(
        privacy_level_options=list(info.privacy_level_options),
        comment_disabled=info.comment_disabled,
        duet_disabled=info.duet_disabled,
        stitch_disabled=info.stitch_disabled,
        max_video_post_duration_sec=info.max_video_post_duration_sec or None,
    )
    content = Content(kind="photo") if photo else Content(kind="video", video=_Length(duration_s))
    refused = {e.field for e in within_creator_info(options, content, AccountFacts(facts))}
    if "privacy_level" in refused:
        return privacy_not_offered(options.privacy_level, info.privacy_level_options)
    if options.brand_content_toggle and options.privacy_level == "SELF_ONLY":
        return failed(
            "branded_content_private",
            "TikTok: branded content (a paid partnership) cannot be posted as “Only me”. "
            "Choose who can see the post, or turn branded content off, and queue it again.",
        )
    turned_off = [noun for name, noun in _TURNED_OFF if name in refused]
    if turned_off:
        named = " and ".join(turned_off)
        return failed(
            "interaction_turned_off",
            f"TikTok: this account has turned off {named} in the TikTok app, so this post "
            f"cannot allow them. Stop allowing {named} for this post (or turn them back on "
            "in TikTok) and queue it again.",
        )
    max_s = info.max_video_post_duration_sec
    if "media.duration_sec" in refused and duration_s is not None and max_s is not None:
        return too_long(duration_s, max_s)
    return None
