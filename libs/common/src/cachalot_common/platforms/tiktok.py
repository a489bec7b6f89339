"""TikTok: Direct Post of a video (Content Posting API).

Limits (shared/reference/platforms.md §1.2, TikTok "Media limits" and
``post_info``): MP4, WebM or MOV; H.264, H.265, VP8 or VP9; 23–60 frames per
second; 360–4096 px on each side (both width and height: the reference says
"each side", so a 320×240 video is refused); at most 600 s of video through
the API (a creator may be held to less: ``max_video_post_duration_sec``,
which the publisher reads); at most 4 GB (read as 4 GiB, the publisher's
chunking limit); caption (``post_info.title``) at most 2200 UTF-16 code units.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, Field, field_validator

from cachalot_common.events import TikTokOptions
from cachalot_common.platforms.spec import (
    Content,
    FieldError,
    Limits,
    MediaLimits,
    PlatformFields,
    PlatformSpec,
)
from cachalot_common.text import length

TIKTOK_CAPTION_MAX_UTF16: Final = 2200
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

    caption: str = Field(default="", description="≤ 2200 UTF-16 code units.")
    privacy_level: Literal[
        "PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR", "SELF_ONLY"
    ] = "SELF_ONLY"
    disable_comment: bool = False
    disable_duet: bool = False
    disable_stitch: bool = False
    video_cover_timestamp_ms: int | None = Field(default=None, ge=0)
    brand_content_toggle: bool = False
    brand_organic_toggle: bool = False
    is_aigc: bool = False

    @field_validator("caption")
    @classmethod
    def _caption_fits(cls, value: str) -> str:
        units = utf16_units(value)
        if units > TIKTOK_CAPTION_MAX_UTF16:
            raise ValueError(
                f"TikTok captions are at most {TIKTOK_CAPTION_MAX_UTF16} UTF-16 units; "
                f"this one is {units}"
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
        )
    ]


SPEC: Final = PlatformSpec(
    name="tiktok",
    label="TikTok",
    fields=TikTokFields,
    limits=Limits(
        video=TIKTOK_VIDEO,
        source="shared/reference/platforms.md §1.2 Media limits (developers.tiktok.com)",
    ),
    checks=(cover_within_video,),
)
