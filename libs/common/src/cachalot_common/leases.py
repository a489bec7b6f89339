"""Client for the auth service's token leases (publishers → auth).

Contract (the auth service implements it, publishers use this client):

``POST {CACHALOT_AUTH_URL}/internal/v1/accounts/{account_id}/lease``
with ``Authorization: Bearer <service JWT>`` (see :mod:`service_auth`; a
fresh one per request: auth refuses a second use of its ``jti``) and JSON
``{"post_id", "target_id", "grant", "force_refresh"}``, where ``grant`` is the
queue's signed publish grant carried by the ``PublishPost`` command (see
:mod:`grants`: EdDSA, verified with the queue's public keys,
``CACHALOT_GRANT_PUBLIC_KEYS``). A publisher may serve a later command of the
same account from its cached lease instead of calling again, but only once
that command's grant verifies locally with the same public keys and binds
that command (:mod:`cachalot_publishing.token`); otherwise it calls:

* 200 ``{"account_id", "platform", "access_token", "expires_at", "scopes",
  "platform_user_id", "destination"?, "token_version"}``: a valid access token (refreshed first
  when it was about to expire, or when ``force_refresh`` is true, which a
  publisher asks for once after the platform answered 401). Never the
  refresh token. Auth records the lease against the grant's post and target.
  ``destination`` (optional, may be absent): where the account's posts go when
  the account itself does not say (Telegram: the linked channel's chat id, the
  ``access_token`` then empty: the bot is ours; VK: the owner id to post to).
  ``token_version`` (integer, not secret): the version of the account's stored tokens,
  bumped each time auth stores them (sign-in, reconnect, refresh). ``language`` (optional,
  ``"en"``/``"ru"``/null): on a channel lease, the client's language (the dashboard's, as
  the notifier's e-mails use it), for the words our bot adds to a post.
  A publisher's cached lease may say what the client has changed since (another channel,
  scopes, a reconnect, its language): every answer is checked against the confirmation
  below, and a post planned by other terms (:meth:`Lease.terms`) is planned again with the
  confirmed lease before its visible step (:class:`cachalot_publishing.token.LeaseChanged`).
* 401 missing service credentials, ``"code": "service_token_invalid"`` (unknown
  service, forged, expired, or living longer than 60 s) or ``"token_replayed"``
  (a service JWT used twice); not retryable;
* 403 problem with a ``code``, not retryable unless said otherwise:
  ``wrong_platform`` (the caller is not ``publisher-<the account's platform>``),
  ``grant_invalid`` (not signed by the queue's private Ed25519 key under a
  ``kid`` auth trusts, or bound to another account,
  platform, post or target), ``not_owner`` (the account now belongs to another
  client than the post's), ``grant_spent`` (the grant's attempt is over: the
  queue's ``posts.status.v1`` said the target was published, cancelled, failed,
  scheduled again, paused, or dispatched anew with a higher attempt; a new
  attempt brings a new grant; honoured from the moment that event reaches
  auth, about a second), ``grant_expired`` and ``grant_missing`` (retryable:
  the queue re-dispatches with a fresh grant; a command queued before grants
  existed has none);
* 404 unknown account;
* 409 problem with ``"code": "reauth_required"`` (or ``"revoked"``): the
  client must reconnect the account; ``"consent_required"``: the client has
  not yet confirmed being 18 or over and given an email (privacy policy: no
  one under 18), so nothing of theirs is posted until they do in the
  dashboard; not retryable (the client's act resumes: auth then emits
  ``accounts.v1`` ``connected`` for their accounts);
* 503 problem: the platform's token endpoint is unreachable; retry later.

``POST {CACHALOT_AUTH_URL}/internal/v1/accounts/{account_id}/token-rejected`` with a fresh
service JWT and JSON ``{"post_id", "target_id", "grant", "token_version"}`` (bound as a
lease is; ``token_version``: the refused lease's): the platform refused the account's token
even after a forced refresh; auth marks the account ``reauth_required`` and ``accounts.v1``
says so, unless the account's tokens were stored again since that lease (the client
reconnected: a stale report, ignored and logged) (204; 401, 403, 404 as for a lease).

``POST {CACHALOT_AUTH_URL}/internal/v1/leases/confirm`` (issue 9, a publisher's
confirmation before a post's visible step, for many commands at once) with a
fresh service JWT and JSON ``{"leases": [{"account_id", "post_id", "target_id",
"grant"}, …]}`` (1 to :data:`MAX_CONFIRM_BATCH` items): 200 ``{"leases": [answer,
…]}``, one answer per item in the same order, each what the single lease above
answers for that item alone (never a forced refresh): ``{"status": 200, "lease":
{the 200 body above}}`` or ``{"status": 403|404|409|500|503, "code", "detail"}``.
Auth checks every item in one transaction when the request arrives. The whole
request answers 401 (service credentials, as above) or 422 (a malformed body).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

import httpx

from cachalot_common.service_auth import mint_service_token


class TokenRejected(Exception):
    """Raised by a platform call when the platform refused the access token (HTTP 401,
    TikTok's ``access_token_invalid``)."""


class _HasAccessToken(Protocol):
    @property
    def access_token(self) -> str: ...


L = TypeVar("L", bound=_HasAccessToken)
T = TypeVar("T")


class OneRefresh(Generic[L]):
    """What to do when a platform refuses an access token, for every caller of a platform
    with a leased token (publishers after a 401, ``cachalot_publishing.token``; auth's
    ``creator_info`` read for the dashboard): refresh it once, by force, and try again; a
    second refusal within the same unit of work (a publish command, one read) means the
    account must be reconnected. A token can be refused while it is still within its
    lifetime (revoked by the platform, rotated elsewhere), so its expiry alone is no proof.

    One instance per unit of work: :attr:`refreshed` is kept across its calls."""

    def __init__(self) -> None:
        self.refreshed = False

    async def call(
        self,
        request: Callable[[str], Awaitable[T]],
        lease: L,
        *,
        refresh: Callable[[], Awaitable[L]],
        refused: Callable[[L], Awaitable[BaseException]],
    ) -> T:
        """``request(lease.access_token)``. On :class:`TokenRejected`: the first time,
        ``refresh()`` (a forced refresh; the lease it returns is tried once more); after a
        refresh, raises what ``refused(lease)`` returns (it tells whoever keeps the account
        that its token is refused). Raises what ``request`` and ``refresh`` raise
        otherwise (a refused refresh already means "reconnect")."""
        while True:
            try:
                return await request(lease.access_token)
            except TokenRejected:
                if self.refreshed:
                    raise await refused(lease) from None
                self.refreshed = True
                lease = await refresh()


class LeaseError(Exception):
    """A lease could not be had."""

    retryable: bool = True


CONSENT_REQUIRED = "consent_required"
"""The 409 ``code`` when the account's client has not given its 18+ consent and email yet."""


class LeaseReauthRequired(LeaseError):
    """The client must act before the account can be used (409); ``code`` says how.

    ``reauth_required`` or ``revoked``: sign in with the account again;
    :data:`CONSENT_REQUIRED`: confirm 18+ and give an email in the dashboard
    (the account itself is fine).
    """

    retryable = False

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class LeaseUnavailable(LeaseError):
    """Auth or the platform's token endpoint is down; try again later."""


RETRYABLE_REFUSALS = frozenset({"grant_expired", "grant_missing"})


class LeaseRefused(LeaseError):
    """Auth refused this caller or this grant (401/403/404); ``code`` says why.

    Not retryable, except ``grant_expired`` and ``grant_missing``: a new dispatch
    brings a fresh grant.
    """

    def __init__(self, status: int, code: str | None, detail: str) -> None:
        super().__init__(f"lease refused ({status}{', ' + code if code else ''}): {detail}")
        self.status = status
        self.code = code
        self.retryable = code in RETRYABLE_REFUSALS


@dataclass(frozen=True, slots=True)
class Lease:
    account_id: UUID
    platform: str
    access_token: str
    expires_at: datetime
    scopes: tuple[str, ...]
    platform_user_id: str | None
    destination: str | None = None
    """Telegram: the linked channel's chat id; VK: the owner id to post to."""
    token_version: int | None = None
    """The version of the account's stored tokens this lease was read from (auth's
    ``token_version``; None from a stand-in that gives none); reported back with a refusal."""
    language: str | None = None
    """Channel leases (Telegram): the client's language, ``en`` or ``ru``, for the words our
    bot adds to the client's posts; None when auth does not know it (or is older)."""

    def terms(self) -> tuple[object, ...]:
        """What the lease says besides its token: where posts go (``destination``),
        ``scopes``, the person (``platform_user_id``) — everything a command may plan by
        that the client can change (relink, reconnect to another person or other scopes).
        The token itself, its expiry and ``token_version`` are not terms: auth refreshes
        tokens on its own (each store bumps the version), and a fresh token of the same
        person, scopes and destination changes nothing a command planned (a refresh counted
        as a change re-planned every command whose lease was refreshed under it, and never
        got through with tokens living less than auth's refresh margin). A field added later
        is a term unless :data:`_NOT_TERMS` names it, so a new one is never left out of
        :meth:`cachalot_publishing.token.CommandTokens.confirm`'s check."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.name not in _NOT_TERMS)

    def __repr__(self) -> str:  # the token must never reach a log line
        return f"Lease(account_id={self.account_id}, platform={self.platform}, token=***)"

    __str__ = __repr__


_NOT_TERMS = frozenset({"access_token", "expires_at", "token_version"})
"""A lease's fields that a command never plans by (:meth:`Lease.terms`)."""

MAX_CONFIRM_BATCH = 100
"""Most leases one confirmation request may carry (auth answers 422 past it)."""


@dataclass(frozen=True, slots=True)
class LeaseAsk:
    """One lease to confirm: the account, and the command's post, target and grant."""

    account_id: UUID
    post_id: UUID
    target_id: UUID | None
    grant: str | None

    def __repr__(self) -> str:  # the grant stays out of log lines
        return f"LeaseAsk(account_id={self.account_id}, post_id={self.post_id})"


class LeaseSource(Protocol):
    """What a publisher needs from auth: :class:`LeaseClient` or a test's stand-in."""

    async def confirm(self, asks: Sequence[LeaseAsk]) -> list[Lease | LeaseError]:
        """Each of ``asks`` leased as :meth:`lease` would lease it (no forced refresh),
        checked by auth when it gets them; one answer per ask, in order. Raises
        :class:`LeaseError` when the request as a whole failed."""
        ...

    async def lease(
        self,
        account_id: UUID,
        *,
        post_id: UUID,
        target_id: UUID | None = None,
        grant: str | None = None,
        force_refresh: bool = False,
    ) -> Lease: ...

    async def rejected(self, ask: LeaseAsk, *, token_version: int | None) -> None:
        """Tell auth the platform refused the account's token, of the lease whose
        ``token_version`` is given, even after a forced refresh (the account must be
        reconnected). Raises :class:`LeaseError` when auth did not take it."""
        ...


class LeaseClient:
    """Asks auth for access tokens, authenticating as this service."""

    def __init__(
        self, *, base_url: str, service: str, secret: str, client: httpx.AsyncClient
    ) -> None:
        self._base = base_url.rstrip("/")
        self._service = service
        self._secret = secret
        self._client = client

    async def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """``POST {auth}{path}`` with ``body`` as JSON and a fresh service JWT: auth's answer,
        whatever its status. Raises :class:`LeaseUnavailable` when auth does not answer."""
        token = mint_service_token(service=self._service, secret=self._secret)
        try:
            return await self._client.post(
                f"{self._base}{path}",
                headers={"Authorization": f"Bearer {token}"},
                json=body,
                timeout=30.0,
            )
        except httpx.HTTPError as exc:
            raise LeaseUnavailable(f"auth unreachable: {type(exc).__name__}") from None

    async def lease(
        self,
        account_id: UUID,
        *,
        post_id: UUID,
        target_id: UUID | None = None,
        grant: str | None = None,
        force_refresh: bool = False,
    ) -> Lease:
        """Lease ``account_id``'s access token for the post ``grant`` names.

        Raises :class:`LeaseReauthRequired` (409), :class:`LeaseRefused`
        (401/403/404, with auth's ``code``), :class:`LeaseUnavailable` (auth or
        the platform unreachable, 5xx).
        """
        response = await self._post(
            f"/internal/v1/accounts/{account_id}/lease",
            {
                "post_id": str(post_id),
                "target_id": str(target_id) if target_id else None,
                "grant": grant,
                "force_refresh": force_refresh,
            },
        )
        if response.status_code == 200:
            return _lease_of(response.json())
        raise _error_of(response.status_code, _field(response, "code"), _detail(response))

    async def rejected(self, ask: LeaseAsk, *, token_version: int | None) -> None:
        """``POST …/accounts/{id}/token-rejected``: the platform refused ``ask``'s account's
        token (of the lease with ``token_version``) even after a forced refresh; auth marks
        it ``reauth_required`` unless the client reconnected since (204).

        Raises :class:`LeaseError` as :meth:`lease` does for a refusal or auth unreachable.
        """
        response = await self._post(
            f"/internal/v1/accounts/{ask.account_id}/token-rejected",
            {
                "post_id": str(ask.post_id),
                "target_id": str(ask.target_id) if ask.target_id else None,
                "grant": ask.grant,
                "token_version": token_version,
            },
        )
        if response.status_code != 204:
            raise _error_of(response.status_code, _field(response, "code"), _detail(response))

    async def confirm(self, asks: Sequence[LeaseAsk]) -> list[Lease | LeaseError]:
        """Confirm ``asks`` (at most :data:`MAX_CONFIRM_BATCH`) in one request; each answer
        is a :class:`Lease` or the :class:`LeaseError` :meth:`lease` would raise for it.

        Raises :class:`LeaseError` for the request as a whole, as :meth:`lease` does
        (:class:`LeaseRefused` for 401, :class:`LeaseUnavailable` for auth unreachable,
        another status, or an answer that does not match the asks).
        """
        items = [
            {
                "account_id": str(ask.account_id),
                "post_id": str(ask.post_id),
                "target_id": str(ask.target_id) if ask.target_id else None,
                "grant": ask.grant,
            }
            for ask in asks
        ]
        response = await self._post("/internal/v1/leases/confirm", {"leases": items})
        if response.status_code != 200:
            raise _error_of(response.status_code, _field(response, "code"), _detail(response))
        answers = response.json().get("leases")
        if not isinstance(answers, list) or len(answers) != len(asks):
            raise LeaseUnavailable("auth's confirmation answer does not match the request")
        return [
            _lease_of(answer["lease"])
            if answer.get("status") == 200
            else _error_of(
                int(answer.get("status") or 500),
                answer.get("code"),
                str(answer.get("detail") or "no detail"),
            )
            for answer in answers
        ]


def _lease_of(body: dict[str, Any]) -> Lease:
    """A lease from auth's 200 body."""
    return Lease(
        account_id=UUID(body["account_id"]),
        platform=body["platform"],
        access_token=body["access_token"],
        expires_at=datetime.fromisoformat(body["expires_at"]),
        scopes=tuple(body.get("scopes") or ()),
        platform_user_id=body.get("platform_user_id"),
        destination=body.get("destination"),
        token_version=body.get("token_version"),
        language=body.get("language") if body.get("language") in ("en", "ru") else None,
    )


def _error_of(status: int, code: str | None, detail: str) -> LeaseError:
    """The :class:`LeaseError` for auth's refusal ``status`` with its ``code``."""
    if status == 409:
        return LeaseReauthRequired(code or "reauth_required", detail)
    if status in (401, 403, 404):
        return LeaseRefused(status, code, detail)
    return LeaseUnavailable(f"lease failed ({status}): {detail}")


def _field(response: httpx.Response, name: str) -> str | None:
    try:
        value = response.json().get(name)
    except ValueError:
        return None
    return str(value) if value is not None else None


def _detail(response: httpx.Response) -> str:
    return _field(response, "detail") or response.reason_phrase or "no detail"
