"""The protocol a platform implements, and what the runtime gives it.

A platform (``services/publisher-<platform>``) provides a :class:`Platform`:

* ``async def publish(command, ctx) -> Published``: put the video up, raising
  :class:`~cachalot_publishing.outcome.Outcome` for anything but success.
  Record the platform's session/publish id *before* the first byte, and on a
  redelivered command (a session is recorded) check status before sending
  anything again: that record is what keeps a post from going up twice
  after a crash or a rebalance.

Everything else is the runtime's: decoding, ordering, concurrency,
fairness, offsets, leases, the media check, results, metrics and spans.
An escaping ``httpx.TransportError`` becomes the shared ``network`` code, an escaping
5xx ``httpx.HTTPStatusError`` ``platform_unavailable``; any other exception a retryable
``internal_error``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol, TypeVar

from cachalot_common.events import MediaRef, PublishPost
from cachalot_common.leases import Lease
from cachalot_publishing.outcome import Published
from cachalot_publishing.token import TokenRejected

T = TypeVar("T")

__all__ = ["Context", "Platform", "Published", "TokenRejected"]


class Context(Protocol):
    """What the runtime offers one publish (one command)."""

    @property
    def command(self) -> PublishPost: ...

    def media_file(self, media: MediaRef | None = None) -> Path:
        """The checked file of ``media`` (default: the post's video) — inside the media
        store, present, of its recorded size; raises the ``failed`` Outcome
        ``media_invalid``/``media_missing``/``media_changed``."""
        ...

    async def call_with_token(self, request: Callable[[str], Awaitable[T]]) -> T:
        """``request(access_token)``; raise :class:`TokenRejected` in it on a platform 401:
        one forced lease refresh, a second 401 ends the command as ``reauth``. Lease
        failures end it too (``lease_unavailable`` retryable, ``lease_refused``, reauth)."""
        ...

    async def lease(self) -> Lease:
        """The account's lease (cached like the token): its ``destination`` for platforms
        whose posts go where auth says (Telegram's linked channel). Raises the Outcomes
        :meth:`call_with_token` raises for lease failures."""
        ...

    async def confirm_lease(self) -> None:
        """Ask auth, not the cache, whether the account is still the command's client's;
        call it right before the step that makes the post visible (Instagram
        ``media_publish``, TikTok ``init``, VK ``wall.post``, Telegram ``send*``). An
        account disconnected meanwhile raises the ``reauth`` Outcome (code ``revoked``),
        which the queue turns into ``cancelled``/``account_revoked`` since the account is
        lost; other lease failures raise what :meth:`call_with_token` raises."""
        ...

    async def progress(self, bytes_sent: int, bytes_total: int) -> None:
        """Report upload progress (throttled by the runtime; the last one always goes)."""
        ...

    async def sleep(self, seconds: float, *, code: str, reason: str) -> None:
        """Wait without holding a publish slot. A wait longer than the in-process maximum
        is not slept: it raises the ``retryable`` Outcome (``code``, ``reason``) with
        ``retry_after_s=seconds``, so the queue schedules the command again."""
        ...


class Platform(Protocol):
    """A platform's publishing steps (see the module docstring). Its name and label are
    the platform registry's (:mod:`cachalot_common.platforms`), not the steps'."""

    async def publish(self, command: PublishPost, ctx: Context) -> Published: ...
