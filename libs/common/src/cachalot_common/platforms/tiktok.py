"""TikTok: Direct Post of a video or of photos (Content Posting API).

Limits (shared/reference/platforms.md §1.2, TikTok "Media limits" and
``post_info``): MP4, WebM or MOV; H.264, H.265, VP8 or VP9; 23–60 frames per
second; 360–4096 px on each side (both width and height: the reference says
"each side", so a 320×240 video is refused); at most 600 s of video through
the API (a creator may be held to less: ``max_video_post_duration_sec``,
which the publisher reads); at most 4 GB (read as 4 GiB, the publisher's
chunking limit); caption (``post_info.title``) at most 2200 UTF-16 code units.

Photo posts (§1.2 "Photo posts"; TikTok's content-posting guide and media
transfer guide, checked with the search tool): 1–35 images, pulled by TikTok
from URLs under a verified domain (``MediaRef.url``, signed by the queue);
``photo_title`` is ``post_info.title`` (≤ 90) and ``caption`` is
``post_info.description`` (≤ 4000); both counted in UTF-16 units, like the
video caption (TikTok says "characters"; UTF-16 units are never fewer than
code points, so this reading never lets through what TikTok refuses).
Formats: TikTok's guide lists JPEG and WebP only, and several integrators
report PNG refused on the photo endpoint, so a PNG image is refused here
(``images[i].content_type``) rather than failing at TikTok after the pull.
At most 20 MB per image, read as 20,000,000 bytes (the stricter reading).
Picture size: TikTok's media transfer guide says "1080p at most" (checked
with the search tool; integrators' guides spell it 1080 × 1920 or 1920 × 1080
px, a square at most 1080 × 1080), and TikTok's status has a
``picture_size_check_failed`` reason for a post it refuses after the pull. We read it as
the longer side ≤ 1920 px and the shorter ≤ 1080 px, either way up, refused
when queued naming ``images[i].width`` or ``images[i].height`` (whichever side
is over). No lower bound is documented for photos, so none is checked.
``photo_cover_index`` must name one of the images. ``disable_duet``,
``disable_stitch`` and ``video_cover_timestamp_ms`` do not apply to a photo
post (TikTok's photo ``post_info`` has no such fields): they are ignored,
not refused. ``auto_add_music`` applies to photo posts only.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from cachalot_common.events import TikTokOptions
from cachalot_common.platforms.spec import (
    AccountFacts,
    Content,
    FieldError,
    Limits,
    MediaLimits,
    PlatformFields,
    PlatformSpec,
    for_kinds,
    max_chars,
)
from cachalot_common.refusals import refusal
from cachalot_common.text import length

TIKTOK_CAPTION_MAX_UTF16: Final = 2200
TIKTOK_PHOTO_DESCRIPTION_MAX_UTF16: Final = 4000
TIKTOK_PHOTO_TITLE_MAX_UTF16: Final = 90
TIKTOK_MAX_IMAGES: Final = 35
TIKTOK_IMAGE: Final = MediaLimits(
    types=frozenset({"image/jpeg", "image/webp"}),
    max_bytes=20_000_000,
    max_long_side_px=1920,
    max_short_side_px=1080,
)
TIKTOK_MAX_DURATION_S: Final = 600.0
TIKTOK_VIDEO: Final = MediaLimits(
    types=frozenset({"video/mp4", "video/webm", "video/quicktime"}),
    max_bytes=4 * 1024**3,
    max_duration_s=TIKTOK_MAX_DURATION_S,
    min_frame_rate=23,
    max_frame_rate=60,
    min_side_px=360,
    max_side_px=4096,
    codecs=frozenset({"h264", "hevc", "vp8", "vp9"}),
)


def utf16_units(text: str) -> int:
    """TikTok counts captions in UTF-16 code units (an emoji is often two)."""
    return length(text, "utf16")


class TikTokFields(PlatformFields):
    """TikTok Direct Post settings for one target."""

    caption: str = Field(
        default="",
        title="Caption",
        description="Video posts: post_info.title, ≤ 2200 UTF-16 code units; photo posts: "
        "post_info.description, ≤ 4000.",
        json_schema_extra=max_chars(TIKTOK_PHOTO_DESCRIPTION_MAX_UTF16),
    )
    privacy_level: Literal[
        "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"
    ] = Field(
        title="Who can see this post",
        # shown under the field on the dashboard: words for people (the options come from
        # GET /api/v1/accounts/{id}/tiktok/creator-info; TikTok's Direct Post UX rules,
        # shared/reference/platforms.md §1.2, forbid a preselected value)
        description="Who can see the post, picked from the choices TikTok offers for this "
        "account; there is no default.",
    )
    # titles: the words the dashboard labels each field with (web/i18n: English and Russian)
    disable_comment: bool = Field(default=False, title="Turn off comments")
    disable_duet: bool = Field(
        default=False, title="Turn off duets", json_schema_extra=for_kinds("video")
    )
    disable_stitch: bool = Field(
        default=False, title="Turn off stitches", json_schema_extra=for_kinds("video")
    )
    video_cover_timestamp_ms: int | None = Field(
        default=None,
        ge=0,
        title="Cover frame (milliseconds from the start; empty: TikTok chooses)",
        json_schema_extra=for_kinds("video"),
    )
    brand_content_toggle: bool = Field(default=False, title="Branded content")
    brand_organic_toggle: bool = Field(default=False, title="Your brand")
    is_aigc: bool = Field(default=False, title="This content is AI-generated")
    photo_title: str = Field(
        default="",
        title="Photo post title",
        description="Photo posts: post_info.title, ≤ 90 UTF-16 code units.",
        json_schema_extra=max_chars(TIKTOK_PHOTO_TITLE_MAX_UTF16) | for_kinds("photo"),
    )
    photo_cover_index: int = Field(
        default=0,
        ge=0,
        title="Cover image (0 is the first)",
        description="Photo posts: which image (from 0) is the cover.",
        json_schema_extra=for_kinds("photo"),
    )
    auto_add_music: bool = Field(
        default=False,
        title="Let TikTok add music",
        description="Photo posts: TikTok adds music.",
        json_schema_extra=for_kinds("photo"),
    )

    @field_validator("caption")
    @classmethod
    def _caption_fits(cls, value: str) -> str:
        """The longest caption any TikTok post takes (a photo's description, 4000 units);
        a video's shorter limit (2200) is :func:`caption_fits_kind`'s."""
        units = utf16_units(value)
        if units > TIKTOK_PHOTO_DESCRIPTION_MAX_UTF16:
            raise refusal(
                "text_too_long",
                f"TikTok captions are at most {TIKTOK_PHOTO_DESCRIPTION_MAX_UTF16} UTF-16 units "
                f"(a photo post's description; {TIKTOK_CAPTION_MAX_UTF16} for a video); "
                f"this one is {units}",
                limit=TIKTOK_PHOTO_DESCRIPTION_MAX_UTF16,
                unit="utf16",
                count=units,
            )
        return value

    @field_validator("brand_content_toggle")
    @classmethod
    def _branded_content_is_not_private(cls, value: bool, info: ValidationInfo) -> bool:
        """Branded content cannot be posted as ``SELF_ONLY`` (TikTok's Direct Post UX rules,
        shared/reference/platforms.md §1.2 rule 3); ``privacy_level`` is validated first."""
        if value and info.data.get("privacy_level") == "SELF_ONLY":
            raise refusal(
                "branded_content_private",
                "branded content (a paid partnership) cannot be posted as “Only me”: "
                "choose who can see it, or turn branded content off",
            )
        return value

    @field_validator("photo_title")
    @classmethod
    def _photo_title_fits(cls, value: str) -> str:
        units = utf16_units(value)
        if units > TIKTOK_PHOTO_TITLE_MAX_UTF16:
            raise refusal(
                "text_too_long",
                f"TikTok photo titles are at most {TIKTOK_PHOTO_TITLE_MAX_UTF16} UTF-16 units; "
                f"this one is {units}",
                limit=TIKTOK_PHOTO_TITLE_MAX_UTF16,
                unit="utf16",
                count=units,
            )
        return value

    def to_options(self) -> TikTokOptions:
        return TikTokOptions(**self.model_dump())


def cover_within_video(options: BaseModel, content: Content) -> list[FieldError]:
    """The cover frame (``video_cover_timestamp_ms``) must be inside the video."""
    cover_ms = getattr(options, "video_cover_timestamp_ms", None)
    duration = content.video.duration_sec if content.video is not None else None
    if cover_ms is None or duration is None or cover_ms <= duration * 1000:
        return []
    return [
        FieldError(
            "video_cover_timestamp_ms",
            f"the cover frame at {cover_ms} ms is past the end of the video "
            f"({duration * 1000:.0f} ms)",
            "cover_past_end",
            {"count": cover_ms, "limit": round(duration * 1000)},
        )
    ]


def caption_fits_kind(options: BaseModel, content: Content) -> list[FieldError]:
    """A video's caption (``post_info.title``) is at most 2200 UTF-16 units; a photo post's
    (``post_info.description``) at most 4000, which the block's validator already holds."""
    caption = getattr(options, "caption", "")
    units = utf16_units(caption)
    if content.kind != "video" or units <= TIKTOK_CAPTION_MAX_UTF16:
        return []
    return [
        FieldError(
            "caption",
            f"TikTok video captions are at most {TIKTOK_CAPTION_MAX_UTF16} UTF-16 units; "
            f"this one is {units}",
            "text_too_long",
            {"limit": TIKTOK_CAPTION_MAX_UTF16, "unit": "utf16", "count": units},
        )
    ]


def photo_count_and_cover(options: BaseModel, content: Content) -> list[FieldError]:
    """A photo post's cover is one of its images (``photo_cover_index``, counted from 0);
    the count itself (1–35) is the registry's ``max_images``."""
    if content.kind != "photo":
        return []
    count = len(content.images)
    if not 1 <= count <= TIKTOK_MAX_IMAGES:
        return []  # said by PlatformSpec.check (too many) or the queue (none)
    cover = getattr(options, "photo_cover_index", 0)
    if cover >= count:
        return [
            FieldError(
                "photo_cover_index",
                f"the cover is image {cover} (counted from 0), but the post's images are "
                f"{_counted(count)}",
                "cover_index",
                {"count": count},
            )
        ]
    return []


PRIVACY_NAMES: Final = {
    "PUBLIC_TO_EVERYONE": "Everyone",
    "MUTUAL_FOLLOW_FRIENDS": "Friends",
    "FOLLOWER_OF_CREATOR": "Followers",
    "SELF_ONLY": "Only me",
}
"""How TikTok's composer names each privacy level (platforms.md §1.2, Direct Post UX rules)."""


def within_creator_info(
    options: BaseModel, content: Content, account: AccountFacts
) -> list[FieldError]:
    """The choices TikTok would refuse for this account, as ``creator_info`` last said
    (shared/reference/platforms.md §1.2, creator_info and the Direct Post UX rules): a
    privacy level it does not offer (``privacy_level``); an interaction the creator turned
    off in TikTok that the post allows (``disable_comment``; for videos ``disable_duet``,
    ``disable_stitch``); a video longer than the creator may post (``media.duration_sec``).
    Nothing is checked while the account's ``creator_info`` is not known; publisher-tiktok
    reads it again before it posts and has the final word."""
    info = account.creator_info
    if info is None:
        return []
    errors: list[FieldError] = []
    chosen = str(getattr(options, "privacy_level", ""))
    if chosen not in info.privacy_level_options:
        offered = ", ".join(f"“{PRIVACY_NAMES.get(o, o)}”" for o in info.privacy_level_options)
        errors.append(
            FieldError(
                "privacy_level",
                f"this TikTok account does not offer “{PRIVACY_NAMES.get(chosen, chosen)}” "
                f"(it offers {offered or 'none right now'}); choose one of those",
                "privacy_not_offered",
                {"allowed": ", ".join(info.privacy_level_options)},
            )
        )
    video = content.kind == "video"
    for name, noun, off, applies in (
        ("disable_comment", "comments", info.comment_disabled, True),
        ("disable_duet", "duets", info.duet_disabled, video),
        ("disable_stitch", "stitches", info.stitch_disabled, video),
    ):
        if applies and off and not getattr(options, name, False):
            errors.append(
                FieldError(
                    name,
                    f"this TikTok account has turned {noun} off in the TikTok app: set "
                    f"{name} to true (or turn {noun} back on in TikTok)",
                    "interaction_off",
                    {"name": noun},
                )
            )
    max_s = info.max_video_post_duration_sec
    duration = content.video.duration_sec if content.video is not None else None
    # over TikTok's own 600 s, the registry's limits say so already
    if (
        video
        and max_s is not None
        and duration is not None
        and max_s < duration <= TIKTOK_MAX_DURATION_S
    ):
        errors.append(
            FieldError(
                "media.duration_sec",
                f"this TikTok account may post videos of at most {max_s} s; "
                f"this one is {duration:.0f} s",
                "duration_too_long",
                {"limit": max_s, "count": round(duration, 1)},
            )
        )
    return errors


def _counted(count: int) -> str:
    """The images' numbers, said without a plural to get wrong: "image 0 only", "0 to 2"."""
    return "image 0 only" if count == 1 else f"0 to {count - 1}"


SPEC: Final = PlatformSpec(
    name="tiktok",
    label="TikTok",
    kinds=frozenset({"video", "photo"}),
    fetches_media=frozenset({"photo"}),  # photo mode pulls from URLs; videos are uploaded
    max_images=TIKTOK_MAX_IMAGES,
    fields=TikTokFields,
    text_fields=("photo_title", "caption"),
    limits=Limits(
        video=TIKTOK_VIDEO,
        image=TIKTOK_IMAGE,
        source=(
            "shared/reference/platforms.md §1.2 Media limits and Photo posts "
            "(developers.tiktok.com); image formats, 20 MB and 1080p (1080×1920 either way "
            "up) from TikTok's media transfer guide, PNG refusal reported by integrators"
        ),
    ),
    checks=(cover_within_video, caption_fits_kind, photo_count_and_cover),
    account_checks=(within_creator_info,),
)
