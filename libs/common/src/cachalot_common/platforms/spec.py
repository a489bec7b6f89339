"""What a platform is to every service: :class:`PlatformSpec` and its parts.

A spec holds what the queue, the notifier and auth need to know of one
platform without naming it in their code: its label for people, whether it
can be published to yet, the block a client fills in for a target on it
(``targets[i].<name>`` in ``POST /api/v1/posts``, a pydantic model whose
validators carry the platform's field limits), the limits that depend on the
video rather than on the block (checked by :meth:`PlatformSpec.check`), how a
person signs in, the topic its publisher consumes and that publisher's
service name. Limits come from ``shared/reference/platforms.md``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from cachalot_common.events import POST_KINDS, PostKind
from cachalot_common.topics import Platform, publish_topic

if TYPE_CHECKING:
    from cachalot_common.articles import Node

SignIn = Literal["oauth", "widget"]
"""``oauth``: an OAuth consent page; ``widget``: Telegram's Login Widget (no user token)."""


class MediaFacts(Protocol):
    """What the checks read of a file: the queue's media row or a command's ``MediaRef``."""

    @property
    def size(self) -> int: ...

    @property
    def content_type(self) -> str: ...

    @property
    def duration_sec(self) -> float | None: ...


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

    ``field`` is ``"media"`` when the video itself is at fault, ``"images"`` /
    ``"images[i]"`` for a photo post's images, ``"article"`` / ``"article.<f>"``
    for an article, ``"kind"`` when the platform cannot take this kind of post,
    else the name of the option inside the platform's block (the caller
    prefixes it, e.g. ``targets[1].tiktok.video_cover_timestamp_ms``). ``type`` follows the
    problem document's ``errors[].type`` (``value_error``, ``missing``).
    """

    field: str
    message: str
    type: str = "value_error"


class PlatformFields(BaseModel):
    """Base of every target block: strict input, turned into the command's options."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    def to_options(self) -> BaseModel:
        """The ``PublishVideo.options`` this block stands for."""
        raise NotImplementedError


Check = Callable[[BaseModel, Content], list[FieldError]]
"""A platform's own options-against-content check, beyond :class:`Limits`."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits that depend on the video, not on the block (units in the names)."""

    max_duration_s: float | None = None


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
    fetches_media: bool = False
    """The platform fetches the post's files from a URL (Instagram, TikTok photo mode): the
    queue puts a signed, expiring link in each ``MediaRef.url`` of its commands."""

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

        Messages are for people and name the limit, e.g. "TikTok accepts at
        most 600 s through its API; this video is 754 s".
        """
        if content.kind not in self.kinds:
            takes = " or ".join(k for k in POST_KINDS if k in self.kinds)
            return [
                FieldError(
                    "kind", f"{self.label} cannot take {content.kind} posts; it takes {takes} posts"
                )
            ]
        errors: list[FieldError] = []
        longest = self.limits.max_duration_s
        duration = content.video.duration_sec if content.video is not None else None
        if longest is not None and duration is not None and duration > longest:
            errors.append(
                FieldError(
                    "media",
                    f"{self.label} accepts at most {longest:.0f} s through its API; "
                    f"this video is {duration:.0f} s",
                )
            )
        for check in self.checks:
            errors += check(options, content)
        return errors
