"""What the HTTP API accepts and returns, validated against the platforms' limits.

Limits (see shared/reference/platforms.md): YouTube title 1–100 characters
without ``<``/``>``, description ≤ 5000 bytes, tags ≤ 500 characters in
total; TikTok caption ≤ 2200 UTF-16 code units. The platform-specific block
is required for an account of that platform, which is checked against the
account projection in :mod:`cachalot_queue.posts`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from cachalot_common.events import TargetStatus, TikTokOptions, YouTubeOptions

YOUTUBE_TITLE_MAX = 100
YOUTUBE_DESCRIPTION_MAX_BYTES = 5000
YOUTUBE_TAGS_MAX_CHARS = 500
TIKTOK_CAPTION_MAX_UTF16 = 2200
MAX_TARGETS = 20


def utf16_units(text: str) -> int:
    """TikTok counts captions in UTF-16 code units (an emoji is often two)."""
    return len(text.encode("utf-16-le")) // 2


def youtube_tags_length(tags: list[str]) -> int:
    """YouTube's count: a tag with a space is quoted, and tags are comma-joined."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class TikTokFields(_Input):
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


class YouTubeFields(_Input):
    """YouTube snippet and status for one target."""

    title: str = Field(description="1–100 characters, no '<' or '>'.")
    description: str = Field(default="", description="≤ 5000 bytes (UTF-8), no '<' or '>'.")
    tags: list[str] = Field(default_factory=list, description="≤ 500 characters in total.")
    category_id: str = Field(default="22", pattern=r"^[0-9]{1,4}$")
    privacy_status: Literal["public", "unlisted", "private"] = "private"
    made_for_kids: bool = False

    @field_validator("title")
    @classmethod
    def _title_fits(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a YouTube title is required")
        if len(value) > YOUTUBE_TITLE_MAX:
            raise ValueError(
                f"YouTube titles are at most {YOUTUBE_TITLE_MAX} characters; this one is "
                f"{len(value)}"
            )
        if "<" in value or ">" in value:
            raise ValueError("YouTube titles may not contain '<' or '>'")
        return value

    @field_validator("description")
    @classmethod
    def _description_fits(cls, value: str) -> str:
        size = len(value.encode())
        if size > YOUTUBE_DESCRIPTION_MAX_BYTES:
            raise ValueError(
                f"YouTube descriptions are at most {YOUTUBE_DESCRIPTION_MAX_BYTES} bytes; "
                f"this one is {size}"
            )
        if "<" in value or ">" in value:
            raise ValueError("YouTube descriptions may not contain '<' or '>'")
        return value

    @field_validator("tags")
    @classmethod
    def _tags_fit(cls, value: list[str]) -> list[str]:
        tags = [t.strip() for t in value]
        if any(not t for t in tags):
            raise ValueError("tags may not be empty")
        if any("<" in t or ">" in t for t in tags):
            raise ValueError("YouTube tags may not contain '<' or '>'")
        total = youtube_tags_length(tags)
        if total > YOUTUBE_TAGS_MAX_CHARS:
            raise ValueError(
                f"YouTube allows {YOUTUBE_TAGS_MAX_CHARS} characters of tags in total; "
                f"these are {total}"
            )
        return tags

    def to_options(self) -> YouTubeOptions:
        return YouTubeOptions(**self.model_dump())


class TargetCreate(_Input):
    """One account to publish to, with the block for its platform."""

    account_id: UUID
    tiktok: TikTokFields | None = None
    youtube: YouTubeFields | None = None


class PostCreate(_Input):
    """Queue a video for one or more of the client's connected accounts."""

    media_id: UUID = Field(description="From POST /api/v1/media.")
    targets: list[TargetCreate] = Field(min_length=1, max_length=MAX_TARGETS)
    scheduled_at: AwareDatetime | None = Field(
        default=None, description="When to publish (with a time zone); now if absent."
    )


class MediaPublic(BaseModel):
    id: UUID
    size: int
    sha256: str
    content_type: str
    duration_sec: float | None = None


class TargetPublic(BaseModel):
    id: UUID
    account_id: UUID
    platform: str
    status: TargetStatus
    attempts: int = Field(description="How many times it was handed to the publisher.")
    next_attempt_at: datetime | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    last_error: str | None = None
    last_error_code: str | None = None
    bytes_sent: int | None = None
    bytes_total: int | None = None
    updated_at: datetime
    options: dict[str, Any]


class PostPublic(BaseModel):
    id: UUID
    media_id: UUID
    media_deleted: bool = Field(
        default=False,
        description="The client deleted this video after the post was finished with it; "
        "media_id is kept for the post's history, the file is gone.",
    )
    scheduled_at: datetime
    created_at: datetime
    targets: list[TargetPublic]


class MediaExport(MediaPublic):
    created_at: datetime


class PostsExport(BaseModel):
    """Everything the queue holds of one client (part of ``GET /api/v1/me/export``)."""

    posts: list[PostPublic] = Field(description="Every post, oldest first, with its targets.")
    media: list[MediaExport] = Field(description="Every uploaded video (metadata; not the bytes).")


class PostPage(BaseModel):
    items: list[PostPublic]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for more.")


class MediaItem(MediaExport):
    """One stored video, with the posts that use it."""

    posts: list[UUID] = Field(description="Posts made from this video, oldest first.")
    needed_by: list[UUID] = Field(
        description="Those of them still scheduled, paused or publishing: while any is "
        "listed here, the video cannot be deleted (409)."
    )


class MediaUsage(BaseModel):
    """How much of the media quota the client uses."""

    used_bytes: int = Field(description="Stored videos plus uploads in progress, in bytes.")
    quota_bytes: int = Field(description="What one client may keep (CACHALOT_MEDIA_QUOTA_BYTES).")


class MediaPage(MediaUsage):
    items: list[MediaItem]
    next_cursor: str | None = Field(default=None, description="Pass as ?cursor= for more.")
