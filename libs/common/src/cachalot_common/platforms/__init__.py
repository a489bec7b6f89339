"""The platform registry: every platform described once (STYLE.md, issue 9 item 2).

Services ask the registry instead of comparing names: ``get(account.platform)``
for a label, whether posts may target it, the block a target takes, the
checks of a video against it, its publish topic and its publisher's service
name. Adding a platform is one :class:`PlatformSpec` here (in its own module
once it is publishable, with its fields model and checks) plus its options
model in :mod:`cachalot_common.events` and its name in
:data:`cachalot_common.topics.Platform`; a unit test fails until the three
agree. The rest a new platform needs (its sign-in in auth, its publisher, the
sandbox's fake, the dashboard's words, ``make dev`` and deploy) is listed in
``libs/publishing/README.md``, "Adding a platform".

Every platform is publishable now; each lives in its own module with its
fields model, its media limits (``limits``, from shared/reference/platforms.md
and the pages named in each ``source``) and its checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from cachalot_common.platforms import instagram, telegram, tiktok, vk, youtube
from cachalot_common.platforms.spec import (
    SHARED_WAITS,
    AccountFacts,
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
    "SHARED_WAITS",
    "AccountFacts",
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
    "is_wait",
    "label_of",
    "names",
    "publishable",
    "wait_codes",
]

MB: Final = 1000**2

REGISTRY: Final[Mapping[str, PlatformSpec]] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            tiktok.SPEC,
            youtube.SPEC,
            instagram.SPEC,
            vk.SPEC,
            telegram.SPEC,
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


def is_wait(platform: str, code: str | None) -> bool:
    """Whether a retryable result with ``code`` from ``platform`` is the platform asking us to
    wait (:meth:`PlatformSpec.is_wait`; only the shared waits for an unknown platform)."""
    spec = REGISTRY.get(platform)
    return spec.is_wait(code) if spec is not None else code in SHARED_WAITS


def wait_codes() -> frozenset[tuple[str, str]]:
    """Every (platform, code) a publisher may send as a wait: each platform's shared and own."""
    return frozenset(
        (spec.name, code) for spec in REGISTRY.values() for code in SHARED_WAITS | spec.waits
    )


def label_of(name: str) -> str:
    """The name people read ("TikTok"); an unknown name is shown as it is."""
    spec = REGISTRY.get(name)
    return spec.label if spec is not None else name


def names() -> tuple[str, ...]:
    """Every platform's name, in registry order."""
    return tuple(REGISTRY)


def largest_image_bytes() -> int:
    """The most bytes any publishable platform takes in one image (VK's 50 MB today): the
    upload cap that lets every platform's own limit be checked, naming the target, when a
    post is queued rather than refusing at upload a file some platform would take."""
    return max(s.limits.image.max_bytes or 0 for s in publishable())


def publishable() -> tuple[PlatformSpec, ...]:
    """The platforms posts may target today, in registry order."""
    return tuple(s for s in REGISTRY.values() if s.publishable)
