"""VK: a wall post with a video, photos or an article's text (VK API ``wall.post``).

Limits, from dev.vk.com and shared/reference/platforms.md §4:

* ``wall.post`` takes at most 10 attachments (dev.vk.com, ``attachments``),
  so a photo post has 1–10 images (an article's cover is one of them);
* wall photos (``photos.getWallUploadServer``): JPEG, PNG or GIF, at most
  50 MB, width + height ≤ 14,000 px, sides no more than 1:20 apart
  (dev.vk.com "Uploading files", photos on a wall);
* the text: VK documents no limit for ``wall.post``; we hold it to 16,384
  characters, the limit VK's own composer enforces (UNCERTAIN: not in the API
  reference; a longer text would be refused by VK at publish time instead);
* ``owner_id``: the account's own wall (none) or ``-<community id>`` of a
  community the client administers (VK answers error 214 otherwise, which
  the publisher turns into a reason).
"""

from __future__ import annotations

from typing import Final

from pydantic import Field, field_validator

from cachalot_common import articles
from cachalot_common.events import VKOptions
from cachalot_common.platforms.spec import (
    Content,
    FieldError,
    Limits,
    MediaLimits,
    PlatformFields,
    PlatformSpec,
    max_chars,
)
from cachalot_common.refusals import refusal

MB: Final = 1000**2

VK_TEXT_MAX: Final = 16_384
VK_ATTACHMENTS_MAX: Final = 10
"""``wall.post`` attachments (dev.vk.com): a photo post's images, the registry's ``max_images``."""
VK_LIMITS: Final = Limits(
    video=MediaLimits(types=frozenset({"video/mp4", "video/quicktime"})),
    image=MediaLimits(
        types=frozenset({"image/jpeg", "image/png"}),
        max_bytes=50 * MB,
        max_sides_sum_px=14_000,
        min_aspect=1 / 20,
        max_aspect=20,
    ),
    source="shared/reference/platforms.md §4.3 is silent on file limits; checked with the "
    "search tool: dev.vk.com/api/upload/video-in-profile lists AVI, MP4, 3GP, MPEG, MOV, "
    "MP3, FLV, WMV (no WebM) and no size; wall photos JPG/PNG/GIF, width + height "
    "≤14000 px, ≤50 MB, aspect at least 1:20 (vk.com/dev upload_files). Video size unknown.",
)


class VKFields(PlatformFields):
    """The wall post's text and where it goes."""

    message: str = Field(
        default="",
        title="Text",
        description=f"≤ {VK_TEXT_MAX} characters.",
        json_schema_extra=max_chars(VK_TEXT_MAX),
    )
    owner_id: int | None = Field(
        default=None,
        title="Where to post",
        description="None: the account's own wall; -<id>: a community the client administers.",
    )

    @field_validator("message")
    @classmethod
    def _message_fits(cls, value: str) -> str:
        if len(value) > VK_TEXT_MAX:
            raise refusal(
                "text_too_long",
                f"VK wall posts are at most {VK_TEXT_MAX} characters; this is {len(value)}",
                limit=VK_TEXT_MAX,
                unit="characters",
                count=len(value),
            )
        return value

    @field_validator("owner_id")
    @classmethod
    def _owner_is_a_wall(cls, value: int | None) -> int | None:
        if value == 0:
            raise refusal(
                "not_a_wall",
                "0 is no wall: leave it out for your own wall, or give -<community id>",
            )
        return value

    def to_options(self) -> VKOptions:
        return VKOptions(**self.model_dump())


def wall_text(options: VKOptions, content: Content) -> str:
    """What ``wall.post`` gets as ``message``: the client's text; for an article, the title and
    the body as plain text after it (links spelled out, :func:`articles.to_plain_text`)."""
    if content.kind != "article":
        return options.message
    body = articles.to_plain_text(list(content.nodes), title=content.title)
    return f"{options.message}\n\n{body}" if options.message else body


def text_fits(options: object, content: Content) -> list[FieldError]:
    """The text VK receives (an article's whole body included) is within the limit."""
    if not isinstance(options, VKOptions):
        return []
    text = wall_text(options, content)
    if len(text) <= VK_TEXT_MAX:
        return []
    where = "article.body_html" if content.kind == "article" else "message"
    return [
        FieldError(
            where,
            f"VK wall posts are at most {VK_TEXT_MAX} characters; this one would be {len(text)}",
            "text_too_long",
            {"limit": VK_TEXT_MAX, "unit": "characters", "count": len(text)},
        )
    ]


SPEC: Final = PlatformSpec(
    name="vk",
    label="VK",
    kinds=frozenset({"video", "photo", "article"}),
    fields=VKFields,
    text_fields=("message",),
    limits=VK_LIMITS,
    max_images=VK_ATTACHMENTS_MAX,
    checks=(text_fits,),
)
