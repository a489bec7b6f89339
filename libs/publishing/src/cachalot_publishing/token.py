"""Access tokens for platform calls: a lease cache per account, one refresh after a 401.

* A lease from auth is kept per account until ``renew_before_s`` before its
  expiry, so an account's next command need not ask auth again (the lease
  round trip was about a quarter of a publisher's time).
* The cache serves a command only when the command's publish grant
  *verifies* here (:func:`cachalot_common.grants.verify_grant` with the
  queue's public keys, ``CACHALOT_GRANT_PUBLIC_KEYS``: EdDSA signature, key
  id, issuer, audience, expiry) and names exactly this command's account,
  platform, post, target, attempt and client, the client the cached lease
  was granted for. Publishers hold only the public keys, so nobody who can
  write to ``posts.publish.<platform>.v1`` can forge a grant; a command whose
  grant does not verify never gets a cached token and goes to auth, whose
  own check refuses it.
* Every lease call passes the command's own grant (issue 8: auth leases a
  token only for content the client queued).
* A platform that answers 401 raises :class:`TokenRejected`; the call is
  repeated once with a forced refresh; a second 401 within the same
  command means the account must be reconnected (``reauth``), and auth is
  told so (``…/token-rejected``), so the account shows it, not only the post.
* Right before a post's visible step a command asks auth again, whatever
  the cache holds (:meth:`LeaseCache.confirm`; the security rule of issue 9:
  a retried post must not go out on an account another client now holds).
  Confirmations go to auth in batches (:class:`ConfirmBatches`): one request
  is out at a time, and the confirmations asked meanwhile go together in the
  next one (at most ``publish_confirm_batch_max``); a request waits
  ``publish_confirm_gather_s`` (0.02 s) before it goes, so that those asked
  meanwhile go with it (with none, a request carried one or two
  confirmations, and auth's cost per request was a fifth of a post's CPU).
  No reuse of an earlier answer: each confirmation is auth's check made
  *after* its command asked (the wait comes before the check, never after
  it), so the window in which an account disconnected or reassigned can
  still be posted to is what it is without batching, the time from auth's
  transaction to the visible step (auth's answer on its way back, then the
  step's own request). A confirmation waits at most the gathering time plus
  the request out before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final, TypeVar
from uuid import UUID

from opentelemetry import context as otel_context
from opentelemetry import trace

from cachalot_common.events import PublishPost, utcnow
from cachalot_common.grants import GrantError, GrantKeyRing, verify_grant
from cachalot_common.leases import (
    CONSENT_REQUIRED,
    MAX_CONFIRM_BATCH,
    Lease,
    LeaseAsk,
    LeaseError,
    LeaseReauthRequired,
    LeaseSource,
    LeaseUnavailable,
    OneRefresh,
    TokenRejected,
)
from cachalot_common.redaction import register_secret
from cachalot_publishing.outcome import (
    LEASE_REFUSED,
    LEASE_UNAVAILABLE,
    Outcome,
    consent_required,
    failed,
    reauth,
    retryable,
)

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("cachalot_publishing")
T = TypeVar("T")
LEASE_RETRY_S = 15.0
ACCOUNT_GONE = frozenset({"reauth_required", "revoked"})
"""Lease 409 codes meaning "sign in again"; any other code's detail is the reason to show."""
MAX_CACHED = 10_000  # accounts; past it, expired leases are dropped


class LeaseChanged(Exception):
    """Raised by :meth:`CommandTokens.confirm` when auth's confirmed lease says something
    else (:meth:`~cachalot_common.leases.Lease.terms`: another channel, scopes, token
    version) than the lease the command was planned with, which a cache may have kept from
    before the client relinked or reconnected. Nothing visible has been done yet (a confirm
    comes right before the visible step): the runtime runs the platform's ``publish`` again
    with the confirmed lease (lease10: the first post after a relink went to the old
    channel)."""


_ALLOW: Final = {"video": "posting videos", "photo": "posting photos", "article": "posting"}


def reauth_reason(label: str, kind: str = "video") -> str:
    """What a person reads when the account's token is dead, worded for the post's ``kind``
    (``video``, ``photo``, ``article``): a photo post asks to allow posting photos, not videos
    (fresh10b: a VK photo post paused asking to allow posting videos)."""
    return (
        f"{label}: the account's authorisation is no longer valid. Reconnect {label} "
        f"(and allow {_ALLOW.get(kind, 'posting')})."
    )


@dataclass(frozen=True, slots=True)
class _Cached:
    lease: Lease
    client_id: str | None  # the client the granting command was for
    expires_at_s: float


def grant_covers(command: PublishPost, keys: GrantKeyRing, now_s: float) -> bool:
    """Whether ``command``'s grant verifies with ``keys`` (at ``now_s``, Unix seconds) and
    binds exactly this command: account, platform, post, target, client and attempt."""
    try:
        grant = verify_grant(command.grant, keys=keys, now_s=now_s)
    except GrantError:
        return False
    return (
        grant.account_id == command.account_id
        and grant.platform == command.platform
        and grant.post_id == command.post_id
        and grant.target_id == command.target_id
        and grant.client_id == command.client_id
        and grant.attempt == command.attempt
    )


class ConfirmBatches:
    """Lease confirmations sent to auth together (see the module docstring).

    ``max_batch``: most asks in one request (1 to
    :data:`~cachalot_common.leases.MAX_CONFIRM_BATCH`). One request is out at a
    time. Before each request the sender waits ``gather_s`` seconds for more asks
    (not when ``max_batch`` wait already): an ask to an idle sender goes ``gather_s``
    after it was made, one made while a request is out ``gather_s`` after that
    request's answer. Each request gets its own span, a child of the first command's
    span it confirms and linked to the others' (a request has one parent).
    """

    def __init__(self, leases: LeaseSource, *, max_batch: int, gather_s: float = 0.0) -> None:
        if not 1 <= max_batch <= MAX_CONFIRM_BATCH:
            raise ValueError(f"max_batch must be 1 to {MAX_CONFIRM_BATCH}")
        self._leases = leases
        self._max_batch = max_batch
        self._gather_s = gather_s
        self._waiting: list[_Waiting] = []
        self._sender: asyncio.Task[None] | None = None
        self.requests = 0
        """Requests sent so far (each with 1 to ``max_batch`` asks)."""

    async def confirm(self, ask: LeaseAsk) -> Lease:
        """Auth's lease for ``ask``, checked by auth after this call; raises its
        :class:`~cachalot_common.leases.LeaseError` (for this ask or the whole request)."""
        waiting = _Waiting(ask, asyncio.get_running_loop().create_future(), _span_link())
        self._waiting.append(waiting)
        if self._sender is None or self._sender.done():
            # its own context: the sender outlives the command that started it
            self._sender = asyncio.create_task(
                self._send(), name="lease-confirmations", context=contextvars.Context()
            )
        answer = await waiting.answer
        if isinstance(answer, LeaseError):
            raise answer
        return answer

    async def aclose(self) -> None:
        """Stop sending; confirmations still waiting fail as ``LeaseUnavailable``."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
            self._sender = None

    async def _send(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self._waiting:
                if self._gather_s > 0 and len(self._waiting) < self._max_batch:
                    await asyncio.sleep(self._gather_s)  # those asked meanwhile join
                batch = [w for w in self._waiting[: self._max_batch] if not w.answer.done()]
                del self._waiting[: self._max_batch]
                if not batch:
                    continue
                answers = await self._ask(batch)
                for waiting, answer in zip(batch, answers, strict=True):
                    if not waiting.answer.done():
                        waiting.answer.set_result(answer)
                batch = []
        finally:  # cancelled: nobody is left waiting for ever
            gone = LeaseUnavailable("the publisher is stopping")
            for waiting in [*batch, *self._waiting]:
                if not waiting.answer.done():
                    waiting.answer.set_result(gone)
            self._waiting.clear()

    async def _ask(self, batch: list[_Waiting]) -> list[Lease | LeaseError]:
        self.requests += 1
        # a child of the first command's span (the one that waited longest), linked to
        # the others': a batch of one, the usual case, is wholly in its post's trace,
        # and auth's confirm route (the request carries this span's context) with it
        first = batch[0].link
        parent = (
            trace.set_span_in_context(trace.NonRecordingSpan(first))
            if first is not None
            else otel_context.Context()
        )
        links = [trace.Link(w.link) for w in batch[1:] if w.link is not None]
        with tracer.start_as_current_span(
            "lease confirm",
            context=parent,
            links=links,
            attributes={"cachalot.leases": len(batch)},
        ):
            try:
                return await self._leases.confirm([w.ask for w in batch])
            except LeaseError as error:
                return [error] * len(batch)
            except Exception as error:  # never leave the commands waiting
                logger.warning("lease confirmation failed (%s)", type(error).__name__)
                return [LeaseUnavailable(f"auth: {type(error).__name__}")] * len(batch)


@dataclass(frozen=True, slots=True)
class _Waiting:
    ask: LeaseAsk
    answer: asyncio.Future[Lease | LeaseError]
    link: trace.SpanContext | None  # the asking command's span


def _span_link() -> trace.SpanContext | None:
    context = trace.get_current_span().get_span_context()
    return context if context.is_valid else None


class LeaseCache:
    """Leases per account (see the module docstring); one per process.

    ``grant_keys``: kid → the queue's public grant key; a cached lease serves only a
    command whose grant verifies with them. ``confirm_batch_max``: most confirmations
    in one request to auth, ``confirm_gather_s``: seconds a request waits for more
    (:class:`ConfirmBatches`).
    """

    def __init__(
        self,
        leases: LeaseSource,
        *,
        label: str,
        grant_keys: GrantKeyRing,
        renew_before_s: float = 60.0,
        confirm_batch_max: int = 50,
        confirm_gather_s: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._leases = leases
        self._label = label
        self._grant_keys = grant_keys
        self._renew_before_s = renew_before_s
        self._clock = clock
        self._cache: dict[UUID, _Cached] = {}
        self.confirmations = ConfirmBatches(
            leases, max_batch=confirm_batch_max, gather_s=confirm_gather_s
        )

    def fresh(self, lease: Lease) -> bool:
        """Whether ``lease`` is still good for a while (not within ``renew_before_s`` of expiry)."""
        return lease.expires_at.timestamp() - self._renew_before_s > self._clock()

    async def lease(self, command: PublishPost, *, force: bool = False) -> Lease:
        """An access token for ``command``'s account, from the cache when it may serve.

        Raises :class:`Outcome`: ``reauth`` (auth says reconnect; or, with code
        ``consent_required``, the client has not confirmed 18+ and given an email),
        ``retryable`` ``lease_unavailable`` (auth or the platform down, or the
        grant expired), ``failed`` ``lease_refused`` (auth refused).
        """
        now = self._clock()
        cached = self._cache.get(command.account_id)
        if (
            not force
            and cached is not None
            and cached.expires_at_s - self._renew_before_s > now
            and cached.client_id == str(command.client_id)
            and grant_covers(command, self._grant_keys, now)
        ):
            return cached.lease
        lease = await self._lease(command, force=force)
        if len(self._cache) >= MAX_CACHED:
            self._cache = {k: v for k, v in self._cache.items() if v.expires_at_s > now}
        expires = lease.expires_at.timestamp()
        self._cache[command.account_id] = _Cached(lease, str(command.client_id), expires)
        return lease

    async def confirm(self, command: PublishPost) -> Lease:
        """Ask auth again, whatever the cache holds: is the account still this client's?

        Called right before a step that cannot be taken back (a post made visible),
        so an account disconnected or reassigned while the command ran stops it
        there. Sent with the other commands' confirmations of the moment
        (:class:`ConfirmBatches`), each checked by auth after its command asked.
        Not a forced refresh (auth hands back the current token). Raises the
        Outcomes :meth:`lease` raises; a refused account is forgotten.
        """
        ask = LeaseAsk(command.account_id, command.post_id, command.target_id, command.grant)
        try:
            lease = await self.confirmations.confirm(ask)
        except LeaseError as error:
            raise self._refused(command, error) from None
        register_secret(lease.access_token)
        self._cache[command.account_id] = _Cached(
            lease, str(command.client_id), lease.expires_at.timestamp()
        )
        return lease

    async def rejected(self, command: PublishPost, lease: Lease) -> None:
        """Tell auth the platform refused ``command``'s account's token (``lease``'s) even
        after a forced refresh, so the account shows ``reauth_required`` everywhere (issue 10),
        not only in the queue's pause. The report names ``lease.token_version``: auth ignores
        it when the client has reconnected since. Best effort: the queue's pause does not
        depend on it."""
        ask = LeaseAsk(command.account_id, command.post_id, command.target_id, command.grant)
        try:
            await self._leases.rejected(ask, token_version=lease.token_version)
        except LeaseError as error:
            logger.warning("auth did not take the token rejection (%s)", type(error).__name__)

    def forget(self, account_id: UUID) -> None:
        """Drop an account's cached lease (its token was refused)."""
        self._cache.pop(account_id, None)

    async def _lease(self, command: PublishPost, *, force: bool) -> Lease:
        try:
            lease = await self._leases.lease(
                command.account_id,
                post_id=command.post_id,
                target_id=command.target_id,
                grant=command.grant,
                force_refresh=force,
            )
        except LeaseError as error:
            raise self._refused(command, error) from None
        register_secret(lease.access_token)
        return lease

    def _refused(self, command: PublishPost, error: LeaseError) -> Outcome:
        """The Outcome that ends ``command`` when auth gave no lease; forgets the account."""
        self.forget(command.account_id)
        if isinstance(error, LeaseReauthRequired):
            if error.code == CONSENT_REQUIRED:
                return consent_required(self._label)
            if error.code not in ACCOUNT_GONE:  # e.g. Telegram's channel_not_linked: auth says
                return reauth(f"{self._label}: not posted yet: {error}.", code=error.code)
            return reauth(reauth_reason(self._label, command.kind), code=error.code)
        if error.retryable:
            return retryable(
                LEASE_UNAVAILABLE, f"No {self._label} token right now ({error}).", LEASE_RETRY_S
            )
        return failed(LEASE_REFUSED, f"No {self._label} token: {error}")


class CommandTokens:
    """One command's view of the cache: at most one forced refresh, then reauth.

    ``leased_at``: when this command first had its lease (auth's answer, or a cached
    lease its grant verified for), UTC; None until then. The publisher's results carry
    it (``PublishResult.leased_at``) so the queue's audit trail says when the attempt's
    lease was granted, not when it was dispatched."""

    def __init__(self, cache: LeaseCache, command: PublishPost, label: str) -> None:
        self._cache = cache
        self._command = command
        self._label = label
        self._refresh: OneRefresh[Lease] = OneRefresh()
        self._lease: Lease | None = None
        self._basis: tuple[object, ...] | None = None
        """The terms of the first lease this run of the command had (what it planned by)."""
        self.leased_at: datetime | None = None

    def _had(self, lease: Lease) -> Lease:
        if self.leased_at is None:
            self.leased_at = utcnow()
        if self._basis is None:
            self._basis = lease.terms()
        self._lease = lease
        return lease

    async def token(self) -> str:
        """The command's token: leased once, renewed when it nears expiry (a long upload)."""
        return (await self.lease()).access_token

    async def lease(self) -> Lease:
        """The command's whole lease (its ``destination`` too), as :meth:`token` gets it."""
        if self._lease is None or not self._cache.fresh(self._lease):
            return self._had(await self._cache.lease(self._command))
        return self._lease

    async def confirm(self) -> None:
        """Auth confirms the lease now (:meth:`LeaseCache.confirm`); raises its Outcomes.

        Raises :class:`LeaseChanged` when the confirmed lease's terms differ from those of
        the first lease this run had (from the cache or auth): the command was planned by
        terms the client has changed since. The confirmed lease is then the command's (and
        the cache's), and the terms a run again plans by. No extra request: the
        confirmation is asked anyway, and the cache keeps serving between them."""
        basis = self._basis
        confirmed = self._had(await self._cache.confirm(self._command))
        if basis is not None and confirmed.terms() != basis:
            self._basis = confirmed.terms()
            raise LeaseChanged(f"account {self._command.account_id}: the lease changed")

    async def call(self, request: Callable[[str], Awaitable[T]]) -> T:
        """``request(token)``; a :class:`TokenRejected` gets one forced refresh per command,
        a second one raises the ``reauth`` :class:`Outcome` (the rule:
        :class:`cachalot_common.leases.OneRefresh`)."""

        async def refresh() -> Lease:
            self._cache.forget(self._command.account_id)
            logger.info("%s refused the token; forcing one lease refresh", self._label)
            self._lease = await self._cache.lease(self._command, force=True)
            return self._lease

        async def refused(lease: Lease) -> BaseException:
            self._cache.forget(self._command.account_id)
            await self._cache.rejected(self._command, lease)
            return reauth(reauth_reason(self._label, self._command.kind))

        return await self._refresh.call(
            request, await self.lease(), refresh=refresh, refused=refused
        )


__all__ = [
    "CommandTokens",
    "ConfirmBatches",
    "LeaseCache",
    "LeaseChanged",
    "Outcome",
    "TokenRejected",
    "grant_covers",
    "reauth_reason",
]
