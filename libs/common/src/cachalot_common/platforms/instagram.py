"""Instagram: Reels from a video, image and carousel posts from photos (content publishing).

What was chosen, and from where (shared/reference/platforms.md §3.3 and
Meta's content-publishing guide; the items the reference marks uncertain are
taken at their strictest published value):

* caption at most 2,200 characters, at most 30 hashtags and at most 20
  ``@`` mentions (the content-publishing guide's limits). Characters are
  counted as Unicode code points, the way Instagram's app counts them; a
  hashtag is ``#`` followed by word characters not glued to a preceding word
  or ``&`` (``a#b`` and ``&#39;`` are not tags), each occurrence counts (the
  app refuses the 31st even when repeated); a mention is ``@`` followed by a
  username (letters, digits, ``.``, ``_``) not glued to a preceding word (an
  email address is not a mention);
* kinds: ``video`` (published as a Reel: ``media_type=VIDEO`` is gone since
  November 2023) and ``photo`` (one image, or a carousel of 2–10);
* Reels: MP4 or MOV (WebM is refused), 3 s to 15 min, at most 300 MB
  (the Reels specification the reference cites); the aspect ratio is checked
  only when the media's dimensions are known (0.01:1 to 10:1, Meta's range;
  9:16 recommended);
* images: JPEG only (``image_url`` takes JPEG; PNG is refused with a reason
  to convert it), at most 8 MB each, aspect ratio between 4:5 and 1.91:1
  when the dimensions are known (media facts carrying ``width``/``height``).
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from cachalot_common.events import InstagramOptions
from cachalot_common.platforms.spec import (
    Limits,
    MediaLimits,
    PlatformFields,
    PlatformSpec,
    for_kinds,
    max_chars,
)
from cachalot_common.refusals import refusal

INSTAGRAM_CAPTION_MAX: Final = 2200
INSTAGRAM_HASHTAGS_MAX: Final = 30
INSTAGRAM_MENTIONS_MAX: Final = 20
CAROUSEL_MAX: Final = 10
MB: Final = 1000**2

INSTAGRAM_LIMITS: Final = Limits(
    video=MediaLimits(  # Reels: every single video is a reel (§3.3)
        types=frozenset({"video/mp4", "video/quicktime"}),
        max_bytes=300 * MB,
        min_duration_s=3,
        max_duration_s=15 * 60,
        min_frame_rate=23,
        max_frame_rate=60,
        max_width_px=1920,
        min_aspect=0.01,
        max_aspect=10,
        codecs=frozenset({"h264", "hevc"}),
    ),
    image=MediaLimits(
        types=frozenset({"image/jpeg"}), max_bytes=8 * MB, min_aspect=4 / 5, max_aspect=1.91
    ),
    source="shared/reference/platforms.md §3.3 (Reels ≤300 MB, 3 s–15 min, 9:16 recommended; "
    "images JPEG only, ≤8 MB, 4:5–1.91:1; marked uncertain there). Checked with the search "
    "tool: frame rate 23–60, width ≤1920 px and aspect 0.01:1–10:1 (help.circleboom.com, "
    "ayrshare.com media guidelines, both citing Meta's reference); sources say 300 MB or 1 GB "
    "for a reel: 300 MB kept. 9:16 is only recommended, so not enforced.",
)

_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9._]+")


def hashtags(text: str) -> int:
    """How many hashtags Instagram counts in ``text`` (every occurrence)."""
    return len(_HASHTAG.findall(text))


def mentions(text: str) -> int:
    """How many ``@username`` mentions Instagram counts in ``text`` (every occurrence)."""
    return len(_MENTION.findall(text))


def caption_problem(text: str) -> PydanticCustomError | None:
    """Why ``text`` cannot be an Instagram caption (a refusal with its code,
    :mod:`cachalot_common.refusals`), or None when it fits."""
    if len(text) > INSTAGRAM_CAPTION_MAX:
        return refusal(
            "text_too_long",
            f"Instagram captions are at most {INSTAGRAM_CAPTION_MAX} characters; "
            f"this one is {len(text)}",
            limit=INSTAGRAM_CAPTION_MAX,
            unit="characters",
            count=len(text),
        )
    tags = hashtags(text)
    if tags > INSTAGRAM_HASHTAGS_MAX:
        return refusal(
            "too_many_hashtags",
            f"Instagram allows at most {INSTAGRAM_HASHTAGS_MAX} hashtags; this caption has {tags}",
            limit=INSTAGRAM_HASHTAGS_MAX,
            count=tags,
        )
    named = mentions(text)
    if named > INSTAGRAM_MENTIONS_MAX:
        return refusal(
            "too_many_mentions",
            f"Instagram allows at most {INSTAGRAM_MENTIONS_MAX} @mentions; "
            f"this caption has {named}",
            limit=INSTAGRAM_MENTIONS_MAX,
            count=named,
        )
    return None


class InstagramFields(PlatformFields):
    """An Instagram post's caption, and whether a Reel also shows in the feed."""

    caption: str = Field(
        default="",
        title="Caption",
        description="≤ 2,200 characters, ≤ 30 hashtags, ≤ 20 @mentions.",
        json_schema_extra=max_chars(INSTAGRAM_CAPTION_MAX),
    )
    share_to_feed: bool = Field(
        default=True,
        title="Also show the reel in the feed",
        description="Reels: also show in the feed.",
        json_schema_extra=for_kinds("video"),
    )

    @field_validator("caption")
    @classmethod
    def _caption_fits(cls, value: str) -> str:
        problem = caption_problem(value)
        if problem is not None:
            raise problem
        return value

    def to_options(self) -> InstagramOptions:
        return InstagramOptions(**self.model_dump())


SPEC: Final = PlatformSpec(
    name="instagram",
    label="Instagram",
    kinds=frozenset({"video", "photo"}),
    fields=InstagramFields,
    text_fields=("caption",),
    limits=INSTAGRAM_LIMITS,
    max_images=CAROUSEL_MAX,
    fetches_media=frozenset({"video", "photo"}),
    waits=frozenset({"publishing_quota_used"}),  # the rolling 24 h publishing limit
)
