"""The platform registry: every platform described once (STYLE.md, issue 9 item 2).

Services ask the registry instead of comparing names: ``get(account.platform)``
for a label, whether posts may target it, the block a target takes, the
checks of a video against it, its publish topic and its publisher's service
name. Adding a platform is one :class:`PlatformSpec` here (in its own module
once it is publishable, with its fields model and checks) plus its options
model in :mod:`cachalot_common.events` and its name in
:data:`cachalot_common.topics.Platform`; a unit test fails until the three
agree.

Telegram can be connected but not yet published to: its spec has no fields
model, but its media limits are declared here already (data only), from
shared/reference/platforms.md §5 and the pages named in its ``source``. Where a
vendor's "MB" is ambiguous the smaller reading (10^6 bytes) is used, so a file
we pass is never one the platform refuses for its size.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from cachalot_common.platforms import instagram, tiktok, vk, youtube
from cachalot_common.platforms.spec import (
    Content,
    FieldError,
    Limits,
    MediaFacts,
    MediaLimits,
    PlatformFields,
    PlatformSpec,
    SignIn,
)

__all__ = [
    "REGISTRY",
    "Content",
    "FieldError",
    "Limits",
    "MediaFacts",
    "MediaLimits",
    "PlatformFields",
    "PlatformSpec",
    "SignIn",
    "find",
    "get",
    "label_of",
    "names",
    "publishable",
]

MB: Final = 1000**2

TELEGRAM_LIMITS: Final = Limits(
    video=MediaLimits(types=frozenset({"video/mp4"}), max_bytes=50 * MB),
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
REGISTRY: Final[Mapping[str, PlatformSpec]] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            tiktok.SPEC,
            youtube.SPEC,
            instagram.SPEC,
            vk.SPEC,
            PlatformSpec(
                name="telegram", label="Telegram", sign_in="widget", limits=TELEGRAM_LIMITS
            ),
        )
    }
)
"""name → spec, in the order people see platforms listed."""


def get(name: str) -> PlatformSpec:
    """The spec of ``name``; raises ``KeyError`` for a name that is not a platform."""
    return REGISTRY[name]


def find(name: str) -> PlatformSpec | None:
    """The spec of ``name``, or ``None`` for a name that is not a platform."""
    return REGISTRY.get(name)


def label_of(name: str) -> str:
    """The name people read ("TikTok"); an unknown name is shown as it is."""
    spec = REGISTRY.get(name)
    return spec.label if spec is not None else name


def names() -> tuple[str, ...]:
    """Every platform's name, in registry order."""
    return tuple(REGISTRY)


def publishable() -> tuple[PlatformSpec, ...]:
    """The platforms posts may target today, in registry order."""
    return tuple(s for s in REGISTRY.values() if s.publishable)
