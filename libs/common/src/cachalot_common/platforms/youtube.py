"""YouTube: ``videos.insert`` with a resumable upload.

Limits (shared/reference/platforms.md, YouTube): title 1–100 characters
without ``<``/``>``; description at most 5000 bytes without ``<``/``>``;
tags at most 500 characters in total, counted YouTube's way
(:func:`youtube_tags_length`). A title is required, so the block is too.
The file: at most 256 GB (§2.2, read as 256 GiB), any video type; the
reference documents no frame rate, size or duration limit for the API (the
15-minute cap on unverified channels is YouTube's, not the API's, and is not
checked here).
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from cachalot_common.events import YouTubeOptions
from cachalot_common.json_size import TOTAL_CHARS
from cachalot_common.platforms.spec import (
    Limits,
    MediaLimits,
    PlatformFields,
    PlatformSpec,
    max_chars,
)
from cachalot_common.refusals import refusal

YOUTUBE_TITLE_MAX: Final = 100
YOUTUBE_DESCRIPTION_MAX_BYTES: Final = 5000
YOUTUBE_TAGS_MAX_CHARS: Final = 500
YOUTUBE_TAGS_MAX_ITEMS: Final = (YOUTUBE_TAGS_MAX_CHARS + 1) // 2


def youtube_tags_length(tags: list[str]) -> int:
    """YouTube's count: a tag with a space is quoted, and tags are comma-joined."""
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(0, len(tags) - 1)


class YouTubeFields(PlatformFields):
    """YouTube snippet and status for one target."""

    title: str = Field(
        title="Title",
        description="1–100 characters, no '<' or '>'.",
        json_schema_extra=max_chars(YOUTUBE_TITLE_MAX),
    )
    description: str = Field(
        default="",
        title="Description",
        description="≤ 5000 bytes (UTF-8), no '<' or '>'.",
        json_schema_extra=max_chars(YOUTUBE_DESCRIPTION_MAX_BYTES),
    )
    tags: list[str] = Field(
        default_factory=list,
        title="Tags, separated by commas",
        description="≤ 500 characters in total.",
        # each tag has a character and all but one a comma: at most 250 tags
        json_schema_extra={
            "maxItems": YOUTUBE_TAGS_MAX_ITEMS,
            "items": {"type": "string", **max_chars(YOUTUBE_TAGS_MAX_CHARS)},
            TOTAL_CHARS: YOUTUBE_TAGS_MAX_CHARS,
        },
    )
    category_id: str = Field(default="22", pattern=r"^[0-9]{1,4}$", max_length=4, title="Category")
    privacy_status: Literal["public", "unlisted", "private"] = Field(
        default="private", title="Who can see it"
    )
    made_for_kids: bool = Field(default=False, title="Made for kids")

    @field_validator("title")
    @classmethod
    def _title_fits(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("missing", "a YouTube title is required")
        if len(value) > YOUTUBE_TITLE_MAX:
            raise refusal(
                "text_too_long",
                f"YouTube titles are at most {YOUTUBE_TITLE_MAX} characters; this one is "
                f"{len(value)}",
                limit=YOUTUBE_TITLE_MAX,
                unit="characters",
                count=len(value),
            )
        if "<" in value or ">" in value:
            raise refusal("angle_brackets", "YouTube titles may not contain '<' or '>'")
        return value

    @field_validator("description")
    @classmethod
    def _description_fits(cls, value: str) -> str:
        size = len(value.encode())
        if size > YOUTUBE_DESCRIPTION_MAX_BYTES:
            raise refusal(
                "text_too_long",
                f"YouTube descriptions are at most {YOUTUBE_DESCRIPTION_MAX_BYTES} bytes; "
                f"this one is {size}",
                limit=YOUTUBE_DESCRIPTION_MAX_BYTES,
                unit="bytes",
                count=size,
            )
        if "<" in value or ">" in value:
            raise refusal("angle_brackets", "YouTube descriptions may not contain '<' or '>'")
        return value

    @field_validator("tags")
    @classmethod
    def _tags_fit(cls, value: list[str]) -> list[str]:
        """Tags without the spaces around them (what is sent), counted once, the way
        YouTube counts them (:func:`youtube_tags_length`: the commas between tags and the
        quotes around a tag with a space count), against 500 characters in total
        (shared/reference/platforms.md, YouTube). Raises ``empty_tag``, ``angle_brackets``
        or ``text_too_long`` (``count`` is that same count, the composer's counter's; or,
        when that count fits but the tags as typed, spaces around them included, do not, the
        typed length)."""
        tags = [t.strip() for t in value]
        if any(not t for t in tags):
            raise refusal("empty_tag", "tags may not be empty")
        if any("<" in t or ">" in t for t in tags):
            raise refusal("angle_brackets", "YouTube tags may not contain '<' or '>'")
        total = youtube_tags_length(tags)
        if total > YOUTUBE_TAGS_MAX_CHARS:
            raise refusal(
                "text_too_long",
                f"YouTube takes at most {YOUTUBE_TAGS_MAX_CHARS:,} characters of tags, counting "
                f"the commas between them and the quotes around a tag with a space; these "
                f"tags have {total:,}",
                limit=YOUTUBE_TAGS_MAX_CHARS,
                unit="characters",
                count=total,
            )
        typed = sum(len(t) for t in value)
        if typed > YOUTUBE_TAGS_MAX_CHARS:
            # The spaces around a tag are dropped before YouTube counts, but a block longer
            # than the limit as typed is still refused: else a valid block could be any length.
            raise refusal(
                "text_too_long",
                f"YouTube takes at most {YOUTUBE_TAGS_MAX_CHARS:,} characters of tags; with the "
                f"spaces around them these tags have {typed:,}: remove those spaces",
                limit=YOUTUBE_TAGS_MAX_CHARS,
                unit="characters",
                count=typed,
            )
        return tags

    def to_options(self) -> YouTubeOptions:
        return YouTubeOptions(**self.model_dump())


SPEC: Final = PlatformSpec(
    name="youtube",
    label="YouTube",
    fields=YouTubeFields,
    text_fields=("title",),
    limits=Limits(
        video=MediaLimits(max_bytes=256 * 1024**3),
        source="shared/reference/platforms.md §2.2 (videos.insert: max file 256 GB)",
    ),
    # the project's daily API units; the channel's daily upload limit
    waits=frozenset({"quota_exceeded", "upload_limit_exceeded"}),
)
