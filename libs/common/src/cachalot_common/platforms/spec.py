"""What a platform is to every service: :class:`PlatformSpec` and its parts.

A spec holds what the queue, the notifier and auth need to know of one
platform without naming it in their code: its label for people, whether it
can be published to yet, the block a client fills in for a target on it
(``targets[i].<name>`` in ``POST /api/v1/posts``, a pydantic model whose
validators carry the platform's field limits), the limits that depend on the
file rather than on the block (:class:`Limits`, checked by
:meth:`PlatformSpec.check` against the facts the queue's probe read), how a
person signs in, the topic its publisher consumes and that publisher's
service name. Limits come from ``shared/reference/platforms.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from dataclasses import field as _field  # FieldError has an attribute named field
from typing import TYPE_CHECKING, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, JsonValue
from pydantic.fields import FieldInfo

from cachalot_common.events import POST_KINDS, CreatorInfoFacts, PostKind
from cachalot_common.refusals import Param
from cachalot_common.refusals import check as check_refusal
from cachalot_common.text import CheckedText
from cachalot_common.topics import Platform, publish_topic

if TYPE_CHECKING:
    from cachalot_common.articles import Node

SHARED_WAITS: Final = frozenset({"rate_limited"})
"""Wait codes every platform may send (``cachalot_publishing.outcome.RATE_LIMITED``: a 429 or
our own per-account limit); a platform's own are :attr:`PlatformSpec.waits`."""

SignIn = Literal["oauth", "widget"]
"""``oauth``: an OAuth consent page; ``widget``: Telegram's Login Widget (no user token)."""


class MediaFacts(Protocol):
    """What the checks read of a file: the queue's media row or a command's ``MediaRef``.

    The facts the probe reads (sizes in pixels, frames per second, FFmpeg's
    codec name) are ``None`` for a file stored before probing; a limit on a
    fact that is ``None`` is not checked.
    """

    @property
    def size(self) -> int: ...

    @property
    def content_type(self) -> str: ...

    @property
    def duration_sec(self) -> float | None: ...

    @property
    def width(self) -> int | None: ...

    @property
    def height(self) -> int | None: ...

    @property
    def frame_rate(self) -> float | None: ...

    @property
    def video_codec(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Content:
    """What a post carries, as the checks see it (built by the queue from its rows).

    ``video`` for a video post, ``images`` (in order) for a photo post,
    ``title``/``nodes`` (:func:`cachalot_common.articles.parse`) and an optional
    ``cover`` for an article.
    """

    kind: PostKind
    video: MediaFacts | None = None
    images: Sequence[MediaFacts] = ()
    title: str | None = None
    nodes: Sequence[Node] = field(default_factory=tuple)
    cover: MediaFacts | None = None


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason the options do not fit the video.

    ``field`` is ``"media.<fact>"`` when the video does not fit the platform
    (``media.frame_rate``, ``media.width``; the caller prefixes the target,
    ``targets[0].media.frame_rate``), ``"images"`` or ``"images[i].<fact>"``
    for a photo post's images, ``"article.cover.<fact>"`` / ``"article.<f>"``
    for an article, ``"kind"`` when the platform cannot take this kind of
    post, else the name of the option inside the platform's block (the caller
    prefixes it, e.g. ``targets[1].tiktok.video_cover_timestamp_ms``). ``type`` is the
    problem document's ``errors[].type``: a code of :data:`cachalot_common.refusals.REFUSALS`
    (or ``missing``), ``params`` the numbers that code names (they become extra keys of the
    error entry, so a page words the refusal in its language).
    """

    field: str
    message: str
    type: str
    params: Mapping[str, Param] = _field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type != "missing":
            check_refusal(self.type, self.params)


class PlatformFields(CheckedText):
    """Base of every target block: strict input, turned into the command's options; every
    string passes the one text rule of :class:`cachalot_common.text.CheckedText`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    def to_options(self) -> BaseModel:
        """The ``PublishPost.options`` this block stands for."""
        raise NotImplementedError


def max_chars(limit: int) -> dict[str, JsonValue]:
    """The JSON-schema bound of a text field: at most ``limit`` characters (code points).

    A platform counts text its own way (UTF-16 units for TikTok and Telegram,
    UTF-8 bytes for a YouTube description, characters elsewhere); the field's
    validator counts that way and gives the platform's message. Each of those
    counts is at least the number of code points, so a text within the
    platform's limit is within ``maxLength`` too, and the schema (OpenAPI,
    the body cap of ``cachalot_common.json_size``) can say how long a valid
    field can be. ``platforms`` tests check every text field has one and that
    its validator refuses a longer text.
    """
    return {"maxLength": limit}


def for_kinds(*kinds: PostKind) -> dict[str, JsonValue]:
    """The JSON-schema mark of a field that only posts of ``kinds`` use (``x-kinds``).

    The dashboard shows a field only for its kinds (one source: the registry, through
    ``GET /api/v1/posts/platforms``); a field without the mark is for every kind the
    platform takes. :meth:`PlatformSpec.check` refuses a value other than the field's
    default on a post of another kind, which the platform would drop (a TikTok
    ``photo_title`` on a video, a Telegram caption on an article): :func:`kinds_of`.
    """
    return {"x-kinds": [k for k in POST_KINDS if k in kinds]}


def choice_words(words: dict[str, str]) -> dict[str, JsonValue]:
    """The JSON-schema mark of a choice field's values in words (``x-choices``: value →
    what a person reads, through the dashboard's catalogues), so no raw value ("auto",
    "telegraph") is shown. ``platforms`` tests check it names every value of the enum."""
    return {"x-choices": dict(words)}


def kinds_of(field: FieldInfo) -> frozenset[PostKind] | None:
    """The kinds of post a block field is for (its :func:`for_kinds` mark); ``None`` for a
    field without the mark (every kind its platform takes)."""
    extra = field.json_schema_extra
    marked = extra.get("x-kinds") if isinstance(extra, dict) else None
    if not isinstance(marked, list):
        return None
    return frozenset(k for k in POST_KINDS if k in marked)


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


Check = Callable[[BaseModel, Content], list[FieldError]]
"""A platform's own options-against-content check, beyond :class:`Limits`."""


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """What the queue knows of a target's account from auth's ``accounts.v1`` events.

    ``creator_info``: TikTok's, at auth's last read (None: not known, or another platform).
    """

    creator_info: CreatorInfoFacts | None = None


AccountCheck = Callable[[BaseModel, Content, AccountFacts], list[FieldError]]
"""A platform's check of the options against what the account allows (TikTok's privacy
levels and turned-off interactions); checks nothing when the account's facts are not known."""


@dataclass(frozen=True, slots=True)
class MediaLimits:
    """What one kind of file (a video, or an image) must be for a platform to take it.

    Every field is optional (``None``: no limit known). Units are in the names;
    ``*_aspect`` is width / height (9:16 is 0.5625); ``*_side_px`` holds for
    both width and height; ``max_long_side_px`` / ``max_short_side_px`` bound
    the longer and the shorter side whichever way the file is turned (TikTok's
    "1080p at most": 1920 and 1080, so 1080×1920 and 1920×1080 both fit);
    ``codecs`` are FFmpeg's names (``h264``, ``hevc``).
    """

    types: frozenset[str] | None = None
    max_bytes: int | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    min_frame_rate: float | None = None
    max_frame_rate: float | None = None
    min_side_px: int | None = None
    max_side_px: int | None = None
    max_width_px: int | None = None
    max_long_side_px: int | None = None
    max_short_side_px: int | None = None
    max_sides_sum_px: int | None = None
    min_aspect: float | None = None
    max_aspect: float | None = None
    codecs: frozenset[str] | None = None

    def check(self, label: str, media: MediaFacts, noun: str = "video") -> list[FieldError]:
        """Every way ``media`` breaks these limits, each naming ``media.<fact>`` and the
        limit in words ("TikTok takes 23–60 frames per second; this video has 10")."""
        errors: list[FieldError] = []

        def refuse(fact: str, message: str, code: str, **params: Param) -> None:
            errors.append(FieldError(f"media.{fact}", f"{label} {message}", code, params))

        if self.types is not None and media.content_type not in self.types:
            taken = ", ".join(sorted(self.types))
            refuse(
                "content_type",
                f"takes {taken}; this {noun} is {media.content_type}",
                "file_type",
                allowed=taken,
                count=media.content_type,
            )
        if self.max_bytes is not None and media.size > self.max_bytes:
            refuse(
                "size",
                f"takes at most {self.max_bytes} bytes; this {noun} is {media.size} bytes",
                "file_too_large",
                limit=self.max_bytes,
                count=media.size,
            )
        errors += self._check_duration(label, media.duration_sec, noun)
        rate = media.frame_rate
        if rate is not None and not _within(rate, self.min_frame_rate, self.max_frame_rate):
            refuse(
                "frame_rate",
                f"takes {_range(self.min_frame_rate, self.max_frame_rate)} frames per second; "
                f"this {noun} has {rate:g}",
                "frame_rate",
                min=self.min_frame_rate,
                max=self.max_frame_rate,
                count=rate,
            )
        codec = media.video_codec
        if codec is not None and self.codecs is not None and codec not in self.codecs:
            taken = ", ".join(sorted(self.codecs))
            refuse(
                "video_codec",
                f"takes {taken}; this {noun} is {codec}",
                "video_codec",
                allowed=taken,
                count=codec,
            )
        if media.width is not None and media.height is not None:
            errors += self._check_size(label, media.width, media.height, noun)
        return errors

    def _check_duration(self, label: str, duration: float | None, noun: str) -> list[FieldError]:
        if duration is None or _within(duration, self.min_duration_s, self.max_duration_s):
            return []
        if self.max_duration_s is not None and duration > self.max_duration_s:
            limit = self.max_duration_s
            message = f"accepts at most {limit:.0f} s through its API"
            code = "duration_too_long"
        else:
            limit = self.min_duration_s or 0.0
            message = f"needs at least {limit:g} s"
            code = "duration_too_short"
        # whole seconds, but one decimal where they would read as the limit itself:
        # 2.9 s is not "3 s" beside a 3 s minimum
        shown = f"{duration:.0f}"
        if round(duration) == round(limit):
            shown = f"{duration:.1f}"
        return [
            FieldError(
                "media.duration_sec",
                f"{label} {message}; this {noun} is {shown} s",
                code,
                {"limit": limit, "count": round(duration, 1)},
            )
        ]

    def _check_size(self, label: str, width: int, height: int, noun: str) -> list[FieldError]:
        errors: list[FieldError] = []
        size = f"this {noun} is {width}×{height}"
        for fact, side in (("width", width), ("height", height)):
            if not _within(side, self.min_side_px, self.max_side_px):
                limit = _range(self.min_side_px, self.max_side_px)
                errors.append(
                    FieldError(
                        f"media.{fact}",
                        f"{label} takes {limit} px on each side; {size}",
                        "side_size",
                        {"min": self.min_side_px, "max": self.max_side_px},
                    )
                )
        if self.max_width_px is not None and width > self.max_width_px:
            errors.append(
                FieldError(
                    "media.width",
                    f"{label} takes at most {self.max_width_px} px wide; {size}",
                    "too_wide",
                    {"limit": self.max_width_px},
                )
            )
        errors += self._check_orientation_free_size(label, width, height, size)
        if self.max_sides_sum_px is not None and width + height > self.max_sides_sum_px:
            errors.append(
                FieldError(
                    "media.width",
                    f"{label} takes width plus height of at most {self.max_sides_sum_px} px; "
                    f"{size}",
                    "sides_sum",
                    {"limit": self.max_sides_sum_px},
                )
            )
        aspect = width / height
        if not _within(aspect, self.min_aspect, self.max_aspect):
            errors.append(
                FieldError(
                    "media.aspect_ratio",
                    f"{label} takes width/height of {_range(self.min_aspect, self.max_aspect)}; "
                    f"{size} ({aspect:.3g})",
                    "aspect_ratio",
                    {"min": self.min_aspect, "max": self.max_aspect},
                )
            )
        return errors

    def _check_orientation_free_size(
        self, label: str, width: int, height: int, size: str
    ) -> list[FieldError]:
        """The longer side within ``max_long_side_px`` and the shorter within
        ``max_short_side_px``; the error names the side that is over (``media.width`` or
        ``media.height``; the width when a square is over)."""
        long_side, short_side = max(width, height), min(width, height)
        long_over = self.max_long_side_px is not None and long_side > self.max_long_side_px
        short_over = self.max_short_side_px is not None and short_side > self.max_short_side_px
        if not (long_over or short_over):
            return []
        if long_over:
            fact = "width" if width >= height else "height"
        else:
            fact = "width" if width <= height else "height"
        if self.max_short_side_px is not None and self.max_long_side_px is not None:
            limit = f"at most {self.max_short_side_px}×{self.max_long_side_px} px (either way up)"
        elif self.max_long_side_px is not None:
            limit = f"at most {self.max_long_side_px} px on the longer side"
        else:
            limit = f"at most {self.max_short_side_px} px on the shorter side"
        return [
            FieldError(
                f"media.{fact}",
                f"{label} takes {limit}; {size}",
                "picture_too_large",
                {"long": self.max_long_side_px, "short": self.max_short_side_px},
            )
        ]


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{low:g}–{high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits that depend on the file, not on the block: one set for videos, one for
    images (photo posts); the file's content type says which applies."""

    video: MediaLimits = MediaLimits()
    image: MediaLimits = MediaLimits()
    source: str = ""
    """Where the numbers come from, and which of them are uncertain."""

    @property
    def max_duration_s(self) -> float | None:
        """The longest video taken, in seconds (``None``: no limit known)."""
        return self.video.max_duration_s

    def check(self, label: str, media: MediaFacts) -> list[FieldError]:
        """Every way ``media`` breaks the limits for its kind (see :meth:`MediaLimits.check`)."""
        if media.content_type.startswith("image/"):
            return self.image.check(label, media, "image")
        return self.video.check(label, media, "video")


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    """One platform, described once.

    ``fields`` is ``None`` while the platform can be connected but not yet
    published to; adding publishing is giving it a fields model (and its
    options model in :mod:`cachalot_common.events`), limits and checks.
    """

    name: Platform
    label: str
    sign_in: SignIn = "oauth"
    kinds: frozenset[PostKind] = frozenset({"video"})
    fields: type[PlatformFields] | None = None
    limits: Limits = Limits()
    checks: tuple[Check, ...] = ()
    account_checks: tuple[AccountCheck, ...] = ()
    max_images: int = 10
    """The most images one photo post may carry here (DESIGN.md "Post kinds": 1–10; TikTok
    takes up to 35). Only read when ``kinds`` has ``photo``."""
    fetches_media: frozenset[PostKind] = frozenset()
    """The kinds of post whose files the platform fetches from a URL (Instagram: all it
    takes; TikTok: photo posts, ``PULL_FROM_URL``): the queue puts a signed, expiring link
    in each ``MediaRef.url`` of those commands."""

    waits: frozenset[str] = frozenset()
    """The platform's own codes for "wait, then ask again" (Instagram's rolling publishing quota,
    YouTube's daily quota and upload limit), besides the shared :data:`SHARED_WAITS` (VK's flood
    control and Telegram's ``retry_after`` are sent as the shared ``rate_limited``). The
    publisher raises them with ``cachalot_publishing.outcome.wait``; the queue schedules the
    target again after the wait using no attempt (:meth:`is_wait`). Declared once here so the
    queue never keeps a list of its own that drifts from what the publishers send (issue 10)."""

    def is_wait(self, code: str | None) -> bool:
        """Whether a retryable result with ``code`` is this platform asking us to wait."""
        return code is not None and (code in SHARED_WAITS or code in self.waits)

    text_fields: tuple[str, ...] = ()
    """The options that hold the post's own words, in the order a person knows the post by
    (YouTube's title; TikTok's photo title, then its caption): :meth:`text_of`."""

    shown_text: Callable[[str], str] | None = None
    """How a reader sees a stored text field (Telegram's caption is HTML: ``UI &lt;b&gt;``
    reads ``UI <b>``); ``None``: as stored. Read by :meth:`text_of`."""

    def text_of(self, options: Mapping[str, object]) -> str:
        """The first of :attr:`text_fields` that ``options`` (a target's block, as stored)
        fills with more than blanks, as a reader sees it (:attr:`shown_text`); "" when none
        does."""
        for name in self.text_fields:
            value = options.get(name)
            if isinstance(value, str) and value.strip():
                return self.shown_text(value) if self.shown_text is not None else value
        return ""

    looks_up_posts: bool = True
    """Whether its publisher can find out what became of an attempt whose answer was lost
    (a crash, a cut connection): YouTube and TikTok look the upload up, Instagram reads its
    container's status, VK answers a repeated ``wall.post`` with the same ``guid`` with the
    same post. Telegram cannot (the Bot API has no lookup of sent messages and no idempotency
    key): such an attempt ends ``unknown`` and its target ``unconfirmed`` for the client to
    check (issue 10); the publishing runtime and the queue's reconciler read this flag."""

    @property
    def publishable(self) -> bool:
        """Whether posts may target an account of this platform today."""
        return self.fields is not None

    @property
    def publish_topic(self) -> str:
        """``posts.publish.<name>.v1``, the topic its publisher consumes."""
        return publish_topic(self.name)

    @property
    def publisher_service(self) -> str:
        """``publisher-<name>``: the one service allowed to lease its tokens."""
        return f"publisher-{self.name}"

    @property
    def required_fields(self) -> tuple[str, ...]:
        """Block fields without a default; a block is required when there are any."""
        if self.fields is None:
            return ()
        return tuple(n for n, f in self.fields.model_fields.items() if f.is_required())

    def default_fields(self) -> PlatformFields | None:
        """The block used when the client sent none (``None`` when one is required)."""
        if self.fields is None or self.required_fields:
            return None
        return self.fields()

    def check(self, options: BaseModel, content: Content) -> list[FieldError]:
        """Every reason ``options`` (this platform's ``PublishPost.options``) cannot be
        published with ``content``; empty when they fit. Pure, no I/O.

        First the options a post of this kind would not use (:meth:`check_kinds`),
        then the file against :attr:`limits` (its duration, frame rate, size in
        pixels, aspect, codec, bytes), then the platform's own ``checks``.
        Messages are for people and name the limit, e.g. "TikTok accepts at
        most 600 s through its API; this video is 754 s".
        """
        if content.kind not in self.kinds:
            takes = " or ".join(k for k in POST_KINDS if k in self.kinds)
            return [
                FieldError(
                    "kind",
                    f"{self.label} cannot take {content.kind} posts; it takes {takes} posts",
                    "kind_not_taken",
                    {"allowed": ", ".join(k for k in POST_KINDS if k in self.kinds)},
                )
            ]
        errors = self.check_kinds(options, content.kind)
        if content.kind == "photo" and len(content.images) > self.max_images:
            errors.append(
                FieldError(
                    "images",
                    f"{self.label} takes at most {self.max_images} images in a post; "
                    f"this one has {len(content.images)}",
                    "too_many_images",
                    {"limit": self.max_images, "count": len(content.images)},
                )
            )
        if content.video is not None:
            errors += self.limits.check(self.label, content.video)
        for index, image in enumerate(content.images):
            errors += _renamed(self.limits.check(self.label, image), f"images[{index}]")
        if content.cover is not None:
            errors += _renamed(self.limits.check(self.label, content.cover), "article.cover")
        for check in self.checks:
            errors += check(options, content)
        return errors

    def check_kinds(self, options: BaseModel, kind: PostKind) -> list[FieldError]:
        """Each option that a post of ``kind`` would not use (its field's ``x-kinds``,
        :func:`for_kinds`, leaves ``kind`` out) set to anything but its default, named by
        the option with its kinds and ``kind`` in words ("photo_title is only for photo
        posts on TikTok; this is a video post: leave it out"); the platform would drop it
        silently. Empty when ``kind`` uses every option set. Pure."""
        if self.fields is None:
            return []
        errors: list[FieldError] = []
        for name, info in self.fields.model_fields.items():
            kinds = kinds_of(info)
            if kinds is None or kind in kinds:
                continue
            default = info.get_default(call_default_factory=True)
            if getattr(options, name, default) == default:
                continue
            for_ = " and ".join(k for k in POST_KINDS if k in kinds)
            errors.append(
                FieldError(
                    name,
                    f"{name} is only for {for_} posts on {self.label}; this is "
                    f"{_a(kind)} post, which would not use it: leave it out",
                    "option_not_for_kind",
                    {"allowed": ", ".join(k for k in POST_KINDS if k in kinds)},
                )
            )
        return errors

    def check_account(
        self, options: BaseModel, content: Content, account: AccountFacts
    ) -> list[FieldError]:
        """Every reason ``options`` do not fit what ``account`` allows now (its
        ``account_checks``), each naming an option (``privacy_level``) or ``media.<fact>``;
        empty when they fit or the facts are not known. Pure, no I/O."""
        return [
            error for check in self.account_checks for error in check(options, content, account)
        ]


def _renamed(errors: list[FieldError], where: str) -> list[FieldError]:
    """``media.<fact>`` errors of one image, named where the client wrote that image."""
    return [
        FieldError(where + e.field.removeprefix("media"), e.message, e.type, e.params)
        for e in errors
    ]
