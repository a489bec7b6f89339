"""What every OAuth platform client does, and the errors it may raise.

A provider speaks one platform's wire format (paths, parameter names, error
shapes) and nothing else: no database, no sessions. Retries live here too,
so every caller gets the same rule: network errors and 5xx are retried with
backoff and end as :class:`PlatformUnavailable` (the account stays ok);
an OAuth error answer (``invalid_grant``…) is final and ends as
:class:`PlatformOAuthError`.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import httpx
from authlib.common.security import generate_token
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from cachalot_common.events import Community
from cachalot_common.text import truncate

T = TypeVar("T")


class PlatformOAuthError(Exception):
    """The platform answered with an OAuth error (final; not retried)."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description


class PlatformUnavailable(Exception):
    """The platform could not be reached or kept failing with 5xx."""


class _Transient(Exception):
    """A 5xx or 429 answer worth another try."""


@dataclass(frozen=True, slots=True)
class TokenSet:
    """Tokens a platform handed out. ``repr`` never shows them."""

    access_token: str
    refresh_token: str | None = None
    expires_in: float | None = None
    scopes: tuple[str, ...] | None = None
    user_id: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"TokenSet(expires_in={self.expires_in}, scopes={self.scopes}, token=***)"


@dataclass(frozen=True, slots=True)
class StoredGrant:
    """What auth holds for an account, handed to refresh/revoke."""

    access_token: str | None
    refresh_token: str | None
    device_id: str | None = None

    def __repr__(self) -> str:
        return "StoredGrant(***)"


@dataclass(frozen=True, slots=True)
class Identity:
    platform_user_id: str
    display_name: str | None
    communities: tuple[Community, ...] | None = None
    """VK: the communities the person administers (``groups.get`` filter=admin, extended=1:
    id, name, screen name) at this sign-in, by id; ``None`` when not asked or VK refused
    (unknown, so nothing is checked)."""


@dataclass(frozen=True, slots=True)
class Pkce:
    verifier: str
    challenge: str


def make_pkce(encoding: Literal["hex", "base64url"] = "base64url") -> Pkce:
    """A fresh RFC 7636 verifier (64 unreserved chars) and its S256 challenge."""
    verifier = generate_token(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = (
        digest.hex()
        if encoding == "hex"
        else base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    )
    return Pkce(verifier=verifier, challenge=challenge)


class Provider(Protocol):
    name: str
    required_scopes: tuple[str, ...]
    uses_pkce: bool
    pkce_encoding: Literal["hex", "base64url"]
    self_renewing: bool
    """The access token is long-lived and renewed with itself, there is no refresh token
    (Instagram's 60-day token): the background refresher renews it before it expires."""

    def authorize_url(
        self,
        *,
        state: str,
        pkce: Pkce | None,
        redirect_uri: str,
        reconsent: bool,
        login_hint: str | None = None,
    ) -> str:
        """The consent page URL. ``reconsent``: ask the person to consent again, so a
        platform that issues a refresh token only on consent (Google) issues one;
        ``login_hint``: the platform user id the person signed in with last time,
        so the repeat lands on the same account (platforms without one ignore both)."""
        ...

    async def exchange(
        self, *, code: str, pkce: Pkce | None, redirect_uri: str, params: Mapping[str, str]
    ) -> TokenSet: ...

    async def identity(self, tokens: TokenSet) -> Identity: ...

    async def refresh(self, grant: StoredGrant) -> TokenSet: ...

    async def revoke(self, grant: StoredGrant) -> None: ...


class HttpCaller:
    """One retry policy for every platform call."""

    def __init__(self, client: httpx.AsyncClient, *, attempts: int, backoff_s: float) -> None:
        self.client = client
        self.attempts = attempts
        self.backoff_s = backoff_s

    async def call(
        self,
        send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
        parse: Callable[[httpx.Response], T],
    ) -> T:
        """Send with retries on network errors/5xx/429, then parse the final answer."""

        async def once() -> T:
            try:
                response = await send(self.client)
            except httpx.TransportError as error:
                raise _Transient(type(error).__name__) from None
            if response.status_code >= 500 or response.status_code == 429:
                raise _Transient(f"HTTP {response.status_code}")
            return parse(response)

        try:
            async for attempt in AsyncRetrying(
                stop=stop_after_attempt(self.attempts),
                wait=wait_exponential_jitter(initial=self.backoff_s, max=5.0),
                retry=retry_if_exception_type(_Transient),
                reraise=True,
            ):
                with attempt:
                    return await once()
        except _Transient as error:
            raise PlatformUnavailable(f"platform unavailable after retries: {error}") from None
        raise AssertionError("unreachable")


def oauth_json(response: httpx.Response) -> dict[str, Any]:
    """A token-endpoint JSON body, or :class:`PlatformOAuthError` from its error fields."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise PlatformOAuthError("invalid_response", f"HTTP {response.status_code}, not JSON")
    error = body.get("error")
    if isinstance(error, dict):  # Graph-style {"error": {"message", "type", "code"}}
        code = "invalid_grant" if error.get("code") in (190, "190") else "invalid_request"
        raise PlatformOAuthError(code, truncate(str(error.get("message", "")), 200))
    if error:
        raise PlatformOAuthError(str(error), truncate(str(body.get("error_description", "")), 200))
    if response.status_code >= 400:
        raise PlatformOAuthError("invalid_request", f"HTTP {response.status_code}")
    return body


def split_scopes(value: Any, sep: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return tuple(s for s in str(value).replace(",", " ").split() if s) if sep else ()


def expires(body: Mapping[str, Any]) -> float | None:
    value = body.get("expires_in")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class ConfidentialClient:
    """A provider that holds a client id and secret and three platform hosts (Google, Instagram).

    The hosts are settings (the sandbox stands in for them); trailing slashes
    are dropped so paths join the same way whatever the setting says.
    """

    def __init__(
        self,
        http: HttpCaller,
        *,
        client_id: str,
        client_secret: str,
        auth_base: str,
        token_base: str,
        api_base: str,
    ) -> None:
        self._http = http
        self._id = client_id
        self._secret = client_secret
        self._auth = auth_base.rstrip("/")
        self._token = token_base.rstrip("/")
        self._api = api_base.rstrip("/")
