"""Telegram: posts by our bot in the client's linked channel (Bot API), long articles on Telegraph.

Limits (shared/reference/platforms.md §5; core.telegram.org/bots/api):

* a message's text: 1–4096 characters *after entity parsing*
  (``sendMessage``), a caption 0–1024 (``sendPhoto``, ``sendVideo``,
  ``sendMediaGroup``), both counted in UTF-16 code units on what is sent
  (:func:`cachalot_common.articles.telegram_length` over the HTML we send;
  captions are sent with ``parse_mode=HTML``, so a caption is Telegram HTML);
* photos: at most 10 MB each (``sendPhoto``: "The photo must be at most 10 MB
  in size"); a photo post has 1–10 images (``sendMediaGroup`` takes 2–10, so
  one image goes with ``sendPhoto``);
* videos: 50 MB through the cloud Bot API ("Bots can currently send files of
  up to 50 MB in size"); a local Bot API server (``telegram-bot-api --local``)
  takes files up to 2000 MB.

Which video limit holds is a shared setting, ``CACHALOT_TELEGRAM_LOCAL_BOT_API``
(``true`` when ``CACHALOT_TELEGRAM_API_BASE`` points at a local Bot API server;
default ``false``). The queue checks posts with it (:func:`video_limit_bytes`,
read from the environment once, in :func:`local_bot_api`) and publisher-telegram
reads the same variable in its settings, so both agree. A base URL alone cannot
tell: the sandbox is not api.telegram.org either, yet it keeps the cloud limit.

Articles: one message (``sendMessage``, HTML) when the rendered article fits 4096
characters after parsing and ``article_as`` is not ``telegraph`` — or, with a
cover, one ``sendPhoto`` whose caption is the article when it fits 1024, or,
with ``article_as="message"`` and more than 1024, one message whose link preview
is the cover; otherwise a Telegraph page announced in the channel
(``article_as="message"`` with an article too long for one message is refused
here, naming the field).
The cover opens the Telegraph page as an image by URL (Telegraph takes no
uploads since September 2024), so an article's commands carry the cover's
signed link (``fetches_media``).
"""

from __future__ import annotations

import json
import os
from typing import Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator

from cachalot_common.articles import (
    LINK_SCHEMES,
    ArticleError,
    telegram_length,
    to_telegram_html,
)
from cachalot_common.events import TelegramOptions
from cachalot_common.platforms.spec import (
    Content,
    FieldError,
    Limits,
    MediaLimits,
    PlatformFields,
    PlatformSpec,
    choice_words,
    for_kinds,
    max_chars,
)
from cachalot_common.refusals import refusal
from cachalot_common.telegram_entities import (
    HTML_TAGS,
    EntityParseError,
    ParsedText,
    parse_text,
    utf16_len,
)
from cachalot_common.text import truncate

TELEGRAM_TEXT_MAX: Final = 4096
TELEGRAM_CAPTION_MAX: Final = 1024
TELEGRAM_CAPTION_HTML_MAX: Final = 16 * TELEGRAM_CAPTION_MAX
"""A caption's HTML as sent: Telegram limits only the text after entity parsing (1024
UTF-16 units, shared/reference/platforms.md §5) and documents no bound for the markup, so
this is ours, not Telegram's: 16 characters of markup per unit of text leaves room for a
link or a tag around every character (``<b>x</b>`` is 8) and bounds the request."""
TELEGRAM_PHOTO_MAX_BYTES: Final = 10 * 1000 * 1000
TELEGRAM_PHOTOS_MAX: Final = 10
CLOUD_VIDEO_MAX_BYTES: Final = 50 * 1024 * 1024
LOCAL_VIDEO_MAX_BYTES: Final = 2000 * 1024 * 1024
LOCAL_BOT_API_ENV: Final = "CACHALOT_TELEGRAM_LOCAL_BOT_API"
TELEGRAPH_CONTENT_MAX_BYTES: Final = 64 * 1024
"""``createPage``'s ``content``: "up to 64 KB" (telegra.ph/api#createPage)."""
COVER_NODE_BYTES: Final = 512
"""Room kept in a page's content for the cover's ``figure``/``img`` node and its signed link."""

_TRUE = frozenset({"1", "true", "yes", "on"})

MB: Final = 1000**2

TELEGRAM_LIMITS: Final = Limits(
    # the video's size limit depends on the server (video_limit_bytes): checked in content_fits
    video=MediaLimits(types=frozenset({"video/mp4"})),
    image=MediaLimits(
        types=frozenset({"image/jpeg", "image/png"}),
        max_bytes=10 * MB,
        max_sides_sum_px=10_000,
        min_aspect=1 / 20,
        max_aspect=20,
    ),
    source="shared/reference/platforms.md §5.2: sendVideo multipart ≤50 MB on the cloud Bot "
    "API (2000 MB on a local Bot API server, which the publisher may allow), clients play "
    "MP4 (other formats go as documents); sendPhoto ≤10 MB, width + height ≤10000, "
    "ratio ≤20 (core.telegram.org/bots/api#sendphoto).",
)


def local_bot_api() -> bool:
    """Whether ``CACHALOT_TELEGRAM_LOCAL_BOT_API`` says the Bot API is a local server."""
    return os.environ.get(LOCAL_BOT_API_ENV, "").strip().lower() in _TRUE


def video_limit_bytes(local: bool | None = None) -> int:
    """Largest video the bot may send: 2000 MB on a local Bot API server, else 50 MB."""
    if local is None:
        local = local_bot_api()
    return LOCAL_VIDEO_MAX_BYTES if local else CLOUD_VIDEO_MAX_BYTES


TELEGRAM_HTML_TAGS: Final = HTML_TAGS
"""Tags of the Bot API's HTML style (core.telegram.org/bots/api#html-style)."""

_HTML_FIX: Final = (
    "write &lt; for a literal <, &gt; for >, &amp; for &; tags are only "
    + ", ".join(sorted(HTML_TAGS))
)


def _fix(error: EntityParseError) -> str:
    words = str(error)
    if "end tag corresponding" in words or "Unmatched end tag" in words:
        return "close every tag you open, innermost first (<b><i>x</i></b>), or " + _HTML_FIX
    return _HTML_FIX


def parse_telegram_html(text: str) -> tuple[ParsedText | None, str | None]:
    """``text`` parsed as Telegram parses a ``parse_mode=HTML`` message, or why it cannot be.

    Returns ``(parsed, None)`` or ``(None, problem)``: the problem is Telegram's own
    words ("can't parse entities: ...") and a fix in words. The parser is the one
    the sandbox's Bot API uses (:mod:`cachalot_common.telegram_entities`, after
    TDLib's ``parse_html``), so what passes here passes there. A link (``<a href>``)
    must use a scheme of :data:`cachalot_common.articles.LINK_SCHEMES`, the rule
    articles follow.
    """
    try:
        parsed = parse_text(text, "html")
    except EntityParseError as error:
        return None, f'Telegram would answer "can\'t parse entities: {error}"; {_fix(error)}'
    for entity in parsed.entities:
        url = str(entity.get("url", ""))
        if entity["type"] == "text_link" and urlsplit(url).scheme.lower() not in LINK_SCHEMES:
            schemes = ", ".join(sorted(LINK_SCHEMES))
            return None, f'the link "{truncate(url, 80)}" must start with one of {schemes}:'
    return parsed, None


def telegram_html_problem(text: str) -> str | None:
    """Why Telegram would answer "can't parse entities" for ``text`` (with a fix), or None."""
    return parse_telegram_html(text)[1]


def article_message(content_title: str | None, nodes: list[object]) -> str:
    """The HTML of an article sent as one message (title bold, then the body)."""
    return to_telegram_html(list(nodes), title=content_title)  # type: ignore[arg-type]


class TelegramFields(PlatformFields):
    """A post in the account's linked Telegram channel."""

    caption: str = Field(
        default="",
        title="Caption",
        description="Video and photo posts: Telegram HTML, ≤ 1024 UTF-16 units after entity "
        f"parsing, ≤ {TELEGRAM_CAPTION_HTML_MAX} characters as sent (markup included).",
        json_schema_extra=max_chars(TELEGRAM_CAPTION_HTML_MAX) | for_kinds("video", "photo"),
    )
    disable_link_preview: bool = Field(
        default=False,
        title="No link preview",
        description="No link preview under text.",
        json_schema_extra=for_kinds("article"),
    )
    disable_notification: bool = Field(
        default=False,
        title="Post silently",
        description="Subscribers get the post without a sound.",
    )
    article_as: Literal["auto", "message", "telegraph"] = Field(
        default="auto",
        title="How to post the article",
        json_schema_extra=for_kinds("article")
        | choice_words(
            {
                "auto": "One message when it fits, else a Telegraph page",
                "message": "Always one message",
                "telegraph": "Always a Telegraph page announced in the channel",
            }
        ),
        description="Articles: a message holds at most 4096 characters; a Telegraph page "
        "holds a long article and opens in Instant View.",
    )

    @field_validator("caption")
    @classmethod
    def _caption_fits(cls, value: str) -> str:
        if len(value) > TELEGRAM_CAPTION_HTML_MAX:
            raise refusal(
                "text_too_long",
                f"Telegram captions are at most {TELEGRAM_CAPTION_HTML_MAX} characters as sent "
                f"(markup included); this one is {len(value)}",
                limit=TELEGRAM_CAPTION_HTML_MAX,
                unit="characters",
                count=len(value),
            )
        parsed, problem = parse_telegram_html(value)
        if parsed is None:
            raise refusal(
                "html_invalid", f"the caption is Telegram HTML and does not parse: {problem}"
            )
        length = utf16_len(parsed.text)
        if length > TELEGRAM_CAPTION_MAX:
            raise refusal(
                "text_too_long",
                f"Telegram captions are at most {TELEGRAM_CAPTION_MAX} UTF-16 units after "
                f"entity parsing (an emoji is often two); this one is {length}",
                limit=TELEGRAM_CAPTION_MAX,
                unit="utf16",
                count=length,
            )
        return value

    def to_options(self) -> TelegramOptions:
        return TelegramOptions(**self.model_dump())


def shown_caption(value: str) -> str:
    """A stored caption (Telegram HTML) as the channel's reader sees it: its text after entity
    parsing; the stored text when it does not parse (the validator refuses such a caption)."""
    parsed, _ = parse_telegram_html(value)
    return parsed.text if parsed is not None else value


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


def content_fits(options: BaseModel, content: Content) -> list[FieldError]:
    """Sizes and counts Telegram refuses: the video, the images, an article as one message
    (a caption on an article is the registry's ``x-kinds`` rule, ``PlatformSpec.check_kinds``)."""
    errors: list[FieldError] = []
    if content.kind == "video" and content.video is not None:
        limit = video_limit_bytes()
        if content.video.size > limit:
            where = "a local Bot API server" if limit == LOCAL_VIDEO_MAX_BYTES else "the Bot API"
            errors.append(
                FieldError(  # Telegram's own limit: the same file may fit another target
                    "media.size",
                    f"Telegram bots can send videos of at most {_mb(limit)} through {where}; "
                    f"this one is {_mb(content.video.size)}",
                    "file_too_large",
                    {"limit": limit, "count": content.video.size},
                )
            )
    if content.kind == "article" and getattr(options, "article_as", "auto") != "message":
        size = len(json.dumps(list(content.nodes), ensure_ascii=False).encode())
        if content.cover is not None:
            size += COVER_NODE_BYTES
        if size > TELEGRAPH_CONTENT_MAX_BYTES:
            errors.append(
                FieldError(
                    "article",
                    f"a Telegraph page holds at most {TELEGRAPH_CONTENT_MAX_BYTES // 1024} KB of "
                    f"content; this article is {size / 1024:.0f} KB",
                    "article_too_large",
                    {"limit": TELEGRAPH_CONTENT_MAX_BYTES, "count": size},
                )
            )
    if content.kind == "article" and getattr(options, "article_as", "auto") == "message":
        try:
            length = telegram_length(article_message(content.title, list(content.nodes)))
        except ArticleError:
            return errors
        if length > TELEGRAM_TEXT_MAX:
            errors.append(
                FieldError(
                    "article_as",
                    f"this article is {length} UTF-16 units as a Telegram message (at most "
                    f"{TELEGRAM_TEXT_MAX}, counted after entity parsing); choose 'auto' or "
                    "'telegraph' to post it as a Telegraph page",
                    "article_too_long_for_message",
                    {"limit": TELEGRAM_TEXT_MAX, "count": length},
                )
            )
        elif (
            content.cover is not None
            and length > TELEGRAM_CAPTION_MAX
            and getattr(options, "disable_link_preview", False)
        ):
            # Over a caption's 1024 units the cover can only be the message's link preview
            # (Bot API sendMessage link_preview_options); with the preview off it would vanish.
            errors.append(
                FieldError(
                    "disable_link_preview",
                    f"a cover shows above a message of more than {TELEGRAM_CAPTION_MAX} UTF-16 "
                    f"units (this one is {length}) only as its link preview: turn the link "
                    "preview on, post the article as a Telegraph page, or remove the cover",
                    "cover_needs_preview",
                    {"limit": TELEGRAM_CAPTION_MAX, "count": length},
                )
            )
    return errors


SPEC: Final = PlatformSpec(
    name="telegram",
    label="Telegram",
    sign_in="widget",
    kinds=frozenset({"video", "photo", "article"}),
    fields=TelegramFields,
    text_fields=("caption",),
    shown_text=shown_caption,
    limits=TELEGRAM_LIMITS,
    max_images=TELEGRAM_PHOTOS_MAX,
    checks=(content_fits,),
    # an article's cover goes on its Telegraph page by URL (Telegraph has no upload)
    fetches_media=frozenset({"article"}),
    # the Bot API has no lookup of sent messages and no idempotency key
    looks_up_posts=False,
)
