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

from pydantic import BaseModel, Field, field_validator

from cachalot_common.events import InstagramOptions
from cachalot_common.platforms.spec import (
    Content,
    FieldError,
    Limits,
    MediaFacts,
    PlatformFields,
    PlatformSpec,
)

INSTAGRAM_CAPTION_MAX: Final = 2200
INSTAGRAM_HASHTAGS_MAX: Final = 30
INSTAGRAM_MENTIONS_MAX: Final = 20
REELS_MIN_DURATION_S: Final = 3.0
REELS_MAX_DURATION_S: Final = 15 * 60.0
REELS_MAX_BYTES: Final = 300 * 1024 * 1024
REELS_TYPES: Final = frozenset({"video/mp4", "video/quicktime"})
IMAGE_MAX_BYTES: Final = 8 * 1024 * 1024
IMAGE_TYPES: Final = frozenset({"image/jpeg"})
CAROUSEL_MAX: Final = 10
IMAGE_ASPECT_MIN: Final = 4 / 5
IMAGE_ASPECT_MAX: Final = 1.91
REELS_ASPECT_MIN: Final = 0.01
REELS_ASPECT_MAX: Final = 10.0

_HASHTAG = re.compile(r"(?<![\w&])#\w+")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9._]+")


def hashtags(text: str) -> int:
    """How many hashtags Instagram counts in ``text`` (every occurrence)."""
    return len(_HASHTAG.findall(text))


def mentions(text: str) -> int:
    """How many ``@username`` mentions Instagram counts in ``text`` (every occurrence)."""
    return len(_MENTION.findall(text))


def caption_problem(text: str) -> str | None:
    """Why ``text`` cannot be an Instagram caption, or None when it fits."""
    if len(text) > INSTAGRAM_CAPTION_MAX:
        return (
            f"Instagram captions are at most {INSTAGRAM_CAPTION_MAX} characters; "
            f"this one is {len(text)}"
        )
    tags = hashtags(text)
    if tags > INSTAGRAM_HASHTAGS_MAX:
        return (
            f"Instagram allows at most {INSTAGRAM_HASHTAGS_MAX} hashtags; this caption has {tags}"
        )
    named = mentions(text)
    if named > INSTAGRAM_MENTIONS_MAX:
        return (
            f"Instagram allows at most {INSTAGRAM_MENTIONS_MAX} @mentions; this caption has {named}"
        )
    return None


class InstagramFields(PlatformFields):
    """An Instagram post's caption, and whether a Reel also shows in the feed."""

    caption: str = Field(
        default="", description="≤ 2,200 characters, ≤ 30 hashtags, ≤ 20 @mentions."
    )
    share_to_feed: bool = Field(default=True, description="Reels: also show in the feed.")

    @field_validator("caption")
    @classmethod
    def _caption_fits(cls, value: str) -> str:
        problem = caption_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    def to_options(self) -> InstagramOptions:
        return InstagramOptions(**self.model_dump())


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _aspect(media: MediaFacts) -> float | None:
    """width / height when the media's facts carry its dimensions."""
    width, height = getattr(media, "width", None), getattr(media, "height", None)
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return width / height
    return None


def reel_fits(_: BaseModel, content: Content) -> list[FieldError]:
    """A video becomes a Reel: MP4/MOV, 3 s or longer, ≤ 300 MB, a sane aspect ratio."""
    video = content.video
    if content.kind != "video" or video is None:
        return []
    errors: list[FieldError] = []
    if video.content_type not in REELS_TYPES:
        errors.append(
            FieldError("media", "Instagram Reels take MP4 or MOV videos; convert this one")
        )
    duration = video.duration_sec
    if duration is not None and duration < REELS_MIN_DURATION_S:
        errors.append(
            FieldError(
                "media",
                f"Instagram Reels are at least {REELS_MIN_DURATION_S:.0f} s long; "
                f"this video is {duration:.1f} s",
            )
        )
    if video.size > REELS_MAX_BYTES:
        errors.append(
            FieldError(
                "media",
                f"Instagram Reels are at most {_mb(REELS_MAX_BYTES)}; "
                f"this video is {_mb(video.size)}",
            )
        )
    aspect = _aspect(video)
    if aspect is not None and not REELS_ASPECT_MIN <= aspect <= REELS_ASPECT_MAX:
        errors.append(FieldError("media", "Instagram Reels take aspect ratios from 0.01:1 to 10:1"))
    return errors


def images_fit(_: BaseModel, content: Content) -> list[FieldError]:
    """A photo post: 1 image or a carousel of 2–10, each a JPEG ≤ 8 MB, 4:5 to 1.91:1."""
    if content.kind != "photo":
        return []
    images = list(content.images)
    errors: list[FieldError] = []
    if not images:
        errors.append(FieldError("images", "an Instagram photo post needs at least one image"))
    if len(images) > CAROUSEL_MAX:
        errors.append(
            FieldError(
                "images",
                f"an Instagram carousel takes at most {CAROUSEL_MAX} images; "
                f"this post has {len(images)}",
            )
        )
    for index, image in enumerate(images):
        where = f"images[{index}]"
        if image.content_type not in IMAGE_TYPES:
            errors.append(
                FieldError(
                    where, "Instagram publishes JPEG images only; convert this image to JPEG"
                )
            )
        if image.size > IMAGE_MAX_BYTES:
            errors.append(
                FieldError(
                    where,
                    f"Instagram images are at most {_mb(IMAGE_MAX_BYTES)}; "
                    f"this one is {_mb(image.size)}",
                )
            )
        aspect = _aspect(image)
        if aspect is not None and not IMAGE_ASPECT_MIN - 1e-3 <= aspect <= IMAGE_ASPECT_MAX + 1e-3:
            errors.append(
                FieldError(
                    where,
                    f"Instagram images are between 4:5 (portrait) and 1.91:1 (landscape); "
                    f"this one is {aspect:.2f}:1",
                )
            )
    return errors


SPEC: Final = PlatformSpec(
    name="instagram",
    label="Instagram",
    kinds=frozenset({"video", "photo"}),
    fields=InstagramFields,
    limits=Limits(max_duration_s=REELS_MAX_DURATION_S),
    checks=(reel_fits, images_fit),
    fetches_media=True,
)
