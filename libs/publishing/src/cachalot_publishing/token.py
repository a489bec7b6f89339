"""Access tokens for platform calls: a lease cache per account, one refresh after a 401.

* A lease from auth is kept per account until ``renew_before_s`` before its
  expiry, so an account's next command need not ask auth again (the lease
  round trip was about a quarter of a publisher's time).
* The cache serves a command only when the command carries a publish grant
  that names this account, platform, post, target and attempt, is
  unexpired, and names the client the cached lease was granted for. The
  grant is read, not verified (only auth holds the queue's key): this keeps a
  token from ever serving a command for another account or another client;
  it does not replace auth's check, which every new lease still gets.
* Every lease call passes the command's own grant (issue 8: auth leases a
  token only for content the client queued).
* A platform that answers 401 raises :class:`TokenRejected`; the call is
  repeated once with a forced refresh; a second 401 within the same
  command means the account must be reconnected (``reauth``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import jwt

from cachalot_common.events import PublishVideo
from cachalot_common.leases import Lease, LeaseError, LeaseReauthRequired, LeaseSource
from cachalot_common.redaction import register_secret
from cachalot_publishing.outcome import (
    LEASE_REFUSED,
    LEASE_UNAVAILABLE,
    Outcome,
    failed,
    reauth,
    retryable,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
LEASE_RETRY_S = 15.0
MAX_CACHED = 10_000  # accounts; past it, expired leases are dropped


class TokenRejected(Exception):
    """Raised by a platform call when the platform refused the access token (HTTP 401)."""


def reauth_reason(label: str) -> str:
    """What a person reads when the account's token is dead."""
    return (
        f"{label}: the account's authorisation is no longer valid. Reconnect {label} "
        "(and allow posting videos)."
    )


@dataclass(frozen=True, slots=True)
class _Cached:
    lease: Lease
    client_id: str | None  # the client the granting command was for
    expires_at_s: float


def _grant_claims(command: PublishVideo) -> dict[str, Any] | None:
    """The grant's claims, read without verifying (None when there is no readable grant)."""
    if not command.grant:
        return None
    try:
        claims = jwt.decode(command.grant, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def _grant_covers(command: PublishVideo, claims: dict[str, Any] | None, now_s: float) -> bool:
    if claims is None:
        return False
    expected = {
        "account_id": str(command.account_id),
        "platform": command.platform,
        "post_id": str(command.post_id),
        "target_id": str(command.target_id),
        "client_id": str(command.client_id),
    }
    if any(str(claims.get(k)) != v for k, v in expected.items()):
        return False
    try:
        return int(claims["attempt"]) == command.attempt and float(claims["exp"]) > now_s
    except (KeyError, TypeError, ValueError):
        return False


class LeaseCache:
    """Leases per account (see the module docstring); one per process."""

    def __init__(
        self,
        leases: LeaseSource,
        *,
        label: str,
        renew_before_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._leases = leases
        self._label = label
        self._renew_before_s = renew_before_s
        self._clock = clock
        self._cache: dict[UUID, _Cached] = {}

    def fresh(self, lease: Lease) -> bool:
        """Whether ``lease`` is still good for a while (not within ``renew_before_s`` of expiry)."""
        return lease.expires_at.timestamp() - self._renew_before_s > self._clock()

    async def lease(self, command: PublishVideo, *, force: bool = False) -> Lease:
        """An access token for ``command``'s account, from the cache when it may serve.

        Raises :class:`Outcome`: ``reauth`` (auth says reconnect),
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
            and _grant_covers(command, _grant_claims(command), now)
        ):
            return cached.lease
        lease = await self._lease(command, force=force)
        if len(self._cache) >= MAX_CACHED:
            self._cache = {k: v for k, v in self._cache.items() if v.expires_at_s > now}
        expires = lease.expires_at.timestamp()
        self._cache[command.account_id] = _Cached(lease, str(command.client_id), expires)
        return lease

    def forget(self, account_id: UUID) -> None:
        """Drop an account's cached lease (its token was refused)."""
        self._cache.pop(account_id, None)

    async def _lease(self, command: PublishVideo, *, force: bool) -> Lease:
        try:
            lease = await self._leases.lease(
                command.account_id,
                post_id=command.post_id,
                target_id=command.target_id,
                grant=command.grant,
                force_refresh=force,
            )
        except LeaseReauthRequired as error:
            self.forget(command.account_id)
            raise reauth(reauth_reason(self._label), code=error.code) from None
        except LeaseError as error:
            self.forget(command.account_id)
            if error.retryable:
                raise retryable(
                    LEASE_UNAVAILABLE, f"No {self._label} token right now ({error}).", LEASE_RETRY_S
                ) from None
            raise failed(LEASE_REFUSED, f"No {self._label} token: {error}") from None
        register_secret(lease.access_token)
        return lease


class CommandTokens:
    """One command's view of the cache: at most one forced refresh, then reauth."""

    def __init__(self, cache: LeaseCache, command: PublishVideo, label: str) -> None:
        self._cache = cache
        self._command = command
        self._label = label
        self._refreshed = False
        self._lease: Lease | None = None

    async def token(self) -> str:
        """The command's token: leased once, renewed when it nears expiry (a long upload)."""
        if self._lease is None or not self._cache.fresh(self._lease):
            self._lease = await self._cache.lease(self._command)
        return self._lease.access_token

    async def call(self, request: Callable[[str], Awaitable[T]]) -> T:
        """``request(token)``; a :class:`TokenRejected` gets one forced refresh per command,
        a second one raises the ``reauth`` :class:`Outcome`."""
        token = await self.token()
        while True:
            try:
                return await request(token)
            except TokenRejected:
                self._cache.forget(self._command.account_id)
                if self._refreshed:
                    raise reauth(reauth_reason(self._label)) from None
                self._refreshed = True
                logger.info("%s refused the token; forcing one lease refresh", self._label)
                self._lease = await self._cache.lease(self._command, force=True)
                token = self._lease.access_token


__all__ = ["CommandTokens", "LeaseCache", "Outcome", "TokenRejected", "reauth_reason"]
