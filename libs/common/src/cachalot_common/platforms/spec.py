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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from cachalot_common.topics import Platform, publish_topic

SignIn = Literal["oauth", "widget"]
"""``oauth``: an OAuth consent page; ``widget``: Telegram's Login Widget (no user token)."""


class MediaFacts(Protocol):
    """What the checks read of a video: the queue's media row or a command's ``MediaRef``."""

    @property
    def size(self) -> int: ...

    @property
    def content_type(self) -> str: ...

    @property
    def duration_sec(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason the options do not fit the video.

    ``field`` is ``"media"`` when the video itself is at fault, else the name
    of the option inside the platform's block (the caller prefixes it, e.g.
    ``targets[1].tiktok.video_cover_timestamp_ms``). ``type`` follows the
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


Check = Callable[[BaseModel, MediaFacts], list[FieldError]]
"""A platform's own options-against-video check, beyond :class:`Limits`."""


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
    fields: type[PlatformFields] | None = None
    limits: Limits = Limits()
    checks: tuple[Check, ...] = ()

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

    def check(self, options: BaseModel, media: MediaFacts) -> list[FieldError]:
        """Every reason ``options`` (this platform's ``PublishVideo.options``) cannot be
        published with ``media``; empty when they fit. Pure, no I/O.

        Messages are for people and name the limit, e.g. "TikTok accepts at
        most 600 s through its API; this video is 754 s".
        """
        errors: list[FieldError] = []
        longest = self.limits.max_duration_s
        duration = media.duration_sec
        if longest is not None and duration is not None and duration > longest:
            errors.append(
                FieldError(
                    "media",
                    f"{self.label} accepts at most {longest:.0f} s through its API; "
                    f"this video is {duration:.0f} s",
                )
            )
        for check in self.checks:
            errors += check(options, media)
        return errors
