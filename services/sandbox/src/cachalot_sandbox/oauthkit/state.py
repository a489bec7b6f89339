"""Per-platform OAuth server state: codes, grants, refresh tokens, controls.

A *grant* is one user's consent for one client, born from one authorization
code. Access tokens live in the shared :mod:`cachalot_sandbox.tokens`
registry (so the fake content APIs accept them); refresh tokens live here.
Revoking a grant revokes every access and refresh token it produced, which
is how re-use of a rotated refresh token and replay of a used code are
punished. Everything sits behind one lock: uvicorn serves the sandbox from
one event loop, but tests also touch the state from their own threads.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from cachalot_sandbox.oauthkit.errors import OAuthError, invalid_grant
from cachalot_sandbox.tokens import IssuedToken, registry


@dataclass
class AuthCode:
    code: str
    client_id: str
    redirect_uri: str
    subject: str
    scopes: tuple[str, ...]
    expires_at: float
    challenge: str | None = None
    challenge_method: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    used: bool = False
    grant_id: str | None = None


@dataclass
class Grant:
    grant_id: str
    client_id: str
    subject: str
    scopes: tuple[str, ...]
    created_at: float
    extras: dict[str, str] = field(default_factory=dict)
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)
    revoked: bool = False


@dataclass
class RefreshToken:
    token: str
    grant_id: str
    issued_at: float
    expires_at: float
    rotated: bool = False


class Fault(BaseModel):
    """One canned answer for the next matching token-endpoint call."""

    status: int | None = Field(
        default=None, ge=100, le=599, description="HTTP status (default 503, or 400 with error)."
    )
    error: str | None = Field(default=None, description="OAuth error name, e.g. invalid_grant.")
    error_description: str | None = None
    body: Any = Field(default=None, description="Raw JSON body to answer instead.")
    grant_type: str | None = Field(
        default=None, description="Only consumed by calls with this grant_type (any if unset)."
    )
    delay_s: float = Field(default=0, ge=0, le=30, description="Wait before answering.")


class PlatformState:
    """Everything one fake OAuth server remembers; reset between tests."""

    def __init__(self, platform: str, defaults: dict[str, float]) -> None:
        self.platform = platform
        self._defaults = {"auto_consent": 0.0, **defaults}
        self._lock = threading.RLock()
        self.config: dict[str, float] = dict(self._defaults)
        self.codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.consents: dict[tuple[str, str], set[str]] = {}
        self.faults: deque[Fault] = deque()
        self.calls: Counter[str] = Counter()
        self._registered_defaults: frozenset[str] = frozenset()
        self.redirect_uris: set[str] = set()

    # ---- configuration and controls -------------------------------------------------

    def set_defaults(self, defaults: dict[str, float]) -> None:
        """Defaults from settings (called when the router is built)."""
        with self._lock:
            self._defaults.update(defaults)
            self.config = dict(self._defaults)

    def set_redirect_uris(self, uris: list[str]) -> None:
        """Redirect URIs registered from settings (called when the router is built)."""
        with self._lock:
            self._registered_defaults = frozenset(uris)
            self.redirect_uris = set(uris)

    def register_redirect_uris(self, uris: list[str]) -> list[str]:
        """Register more, as a developer adds one in the platform's console; until reset."""
        with self._lock:
            self.redirect_uris.update(uris)
            return sorted(self.redirect_uris)

    def redirect_uri_registered(self, uri: str) -> bool:
        """Exact string match, as TikTok, Google, Instagram and VK ID compare."""
        with self._lock:
            return uri in self.redirect_uris

    def configure(self, values: dict[str, float]) -> dict[str, float]:
        with self._lock:
            unknown = set(values) - set(self._defaults)
            if unknown:
                raise KeyError(", ".join(sorted(unknown)))
            self.config.update({k: float(v) for k, v in values.items()})
            return dict(self.config)

    def setting(self, key: str) -> float:
        with self._lock:
            return self.config[key]

    def auto_decision(self) -> str | None:
        """``auto_consent`` 1 = answer every authorize with Allow, -1 = Deny, 0 = show the page."""
        value = self.setting("auto_consent")
        return "allow" if value > 0 else "deny" if value < 0 else None

    def push_faults(self, faults: list[Fault]) -> int:
        with self._lock:
            self.faults.extend(faults)
            return len(self.faults)

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def take_fault(self, grant_type: str) -> Fault | None:
        """Pop the first queued fault that applies to ``grant_type``."""
        with self._lock:
            for fault in self.faults:
                if fault.grant_type in (None, grant_type):
                    self.faults.remove(fault)
                    return fault
            return None

    def count(self, kind: str) -> None:
        with self._lock:
            self.calls[kind] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            token = {k.removeprefix("token:"): v for k, v in self.calls.items() if ":" in k}
            other = {k: v for k, v in self.calls.items() if ":" not in k}
            return {
                "token": token,
                "token_total": sum(token.values()),
                **other,
                "pending_faults": len(self.faults),
                "grants": len(self.grants),
                "live_grants": sum(1 for g in self.grants.values() if not g.revoked),
            }

    def reset(self) -> None:
        with self._lock:
            self.config = dict(self._defaults)
            self.redirect_uris = set(self._registered_defaults)
            self.codes.clear()
            self.grants.clear()
            self.refresh_tokens.clear()
            self.consents.clear()
            self.faults.clear()
            self.calls.clear()

    # ---- consent memory (Google's "first consent" rule) -----------------------------

    def remember_consent(self, client_id: str, subject: str, scopes: tuple[str, ...]) -> bool:
        """Record a consent; True when this user had never consented to this client."""
        with self._lock:
            key = (client_id, subject)
            first = key not in self.consents
            self.consents.setdefault(key, set()).update(scopes)
            return first

    def consented_scopes(self, client_id: str, subject: str) -> set[str] | None:
        with self._lock:
            known = self.consents.get((client_id, subject))
            return set(known) if known is not None else None

    def forget_consent(self, client_id: str, subject: str) -> None:
        with self._lock:
            self.consents.pop((client_id, subject), None)

    # ---- authorization codes --------------------------------------------------------

    def issue_code(
        self,
        *,
        client_id: str,
        redirect_uri: str,
        subject: str,
        scopes: tuple[str, ...],
        challenge: str | None = None,
        challenge_method: str | None = None,
        extras: dict[str, str] | None = None,
        prefix: str = "",
    ) -> AuthCode:
        code = AuthCode(
            code=f"{prefix}{secrets.token_urlsafe(24)}",
            client_id=client_id,
            redirect_uri=redirect_uri,
            subject=subject,
            scopes=scopes,
            expires_at=time.time() + self.setting("code_lifetime_s"),
            challenge=challenge,
            challenge_method=challenge_method,
            extras=dict(extras or {}),
        )
        with self._lock:
            self.codes[code.code] = code
        return code

    def redeem_code(self, value: str, *, client_id: str, revoke_on_replay: bool) -> AuthCode:
        """Consume a code: unknown, expired, foreign or already used → ``invalid_grant``.

        The code is burned by this call whatever the caller checks next
        (redirect_uri, PKCE), so a failed exchange cannot be retried with a
        guessed verifier. A replay optionally revokes what the first
        exchange produced (RFC 6749 §4.1.2).
        """
        with self._lock:
            code = self.codes.get(value)
            if code is None or code.client_id != client_id:
                raise invalid_grant("Authorization code is invalid.")
            if code.used:
                if revoke_on_replay and code.grant_id is not None:
                    self.revoke_grant(code.grant_id)
                raise invalid_grant("Authorization code has already been used.")
            code.used = True
            if time.time() >= code.expires_at:
                raise invalid_grant("Authorization code has expired.")
            return code

    # ---- grants and tokens ----------------------------------------------------------

    def open_grant(self, code: AuthCode, *, extras: dict[str, str] | None = None) -> Grant:
        grant = Grant(
            grant_id=secrets.token_hex(8),
            client_id=code.client_id,
            subject=code.subject,
            scopes=code.scopes,
            created_at=time.time(),
            extras={**code.extras, **(extras or {})},
        )
        with self._lock:
            self.grants[grant.grant_id] = grant
            code.grant_id = grant.grant_id
        return grant

    def issue_access(self, grant: Grant, *, lifetime_s: float, prefix: str = "") -> IssuedToken:
        issued = registry.issue(
            platform=self.platform,
            subject=grant.subject,
            scopes=set(grant.scopes),
            lifetime_s=lifetime_s,
            prefix=prefix,
        )
        issued.meta["grant_id"] = grant.grant_id
        issued.meta["client_id"] = grant.client_id
        with self._lock:
            grant.access_tokens.append(issued.token)
        return issued

    def issue_refresh(self, grant: Grant, *, lifetime_s: float, prefix: str = "") -> RefreshToken:
        now = time.time()
        refresh = RefreshToken(
            token=f"{prefix}{secrets.token_urlsafe(32)}",
            grant_id=grant.grant_id,
            issued_at=now,
            expires_at=now + lifetime_s,
        )
        with self._lock:
            self.refresh_tokens[refresh.token] = refresh
            grant.refresh_tokens.append(refresh.token)
        return refresh

    def use_refresh(self, value: str, *, client_id: str, rotate: bool) -> Grant:
        """Check a refresh token; with ``rotate`` it is spent by this call.

        Presenting a refresh token that was already rotated away means it
        leaked or a client lost a response: the whole grant is revoked
        (OAuth 2.0 Security BCP §4.14).
        """
        with self._lock:
            refresh = self.refresh_tokens.get(value)
            grant = self.grants.get(refresh.grant_id) if refresh is not None else None
            if refresh is None or grant is None or grant.client_id != client_id:
                raise invalid_grant("Refresh token is invalid.")
            if grant.revoked:
                raise invalid_grant("Token has been expired or revoked.")
            if refresh.rotated:
                self.revoke_grant(grant.grant_id)
                raise invalid_grant("Refresh token was already used; the grant has been revoked.")
            if time.time() >= refresh.expires_at:
                raise invalid_grant("Refresh token has expired.")
            if rotate:
                refresh.rotated = True
            return grant

    def grant_of_access(self, token: str) -> Grant | None:
        issued = registry.lookup(self.platform, token)
        if issued is None:
            return None
        with self._lock:
            return self.grants.get(issued.meta.get("grant_id", ""))

    def grant_of_refresh(self, token: str) -> Grant | None:
        with self._lock:
            refresh = self.refresh_tokens.get(token)
            return self.grants.get(refresh.grant_id) if refresh is not None else None

    def live_access(self, token: str) -> IssuedToken:
        """A valid access token of this platform, or ``invalid_token``."""
        issued = registry.lookup(self.platform, token)
        if issued is None or not issued.is_valid():
            raise OAuthError("invalid_token", "The access token is invalid or expired.", status=401)
        return issued

    def revoke_grant(self, grant_id: str) -> bool:
        with self._lock:
            grant = self.grants.get(grant_id)
            if grant is None:
                return False
            grant.revoked = True
            for token in grant.access_tokens:
                registry.revoke(token)
            return True

    def expire_refresh_tokens(self, subject: str) -> int:
        """Every refresh token of ``subject`` dies now (as after its lifetime, or Google's
        six months unused), while the grants' consent is remembered; how many died."""
        now = time.time()
        with self._lock:
            grants = {g.grant_id for g in self.grants.values() if g.subject == subject}
            hits = [
                r
                for r in self.refresh_tokens.values()
                if r.grant_id in grants and r.expires_at > now
            ]
            for refresh in hits:
                refresh.expires_at = now
            return len(hits)

    def revoke_subject(self, subject: str) -> int:
        """The user removes the app at the platform: every grant dies, consent too."""
        with self._lock:
            hits = [g for g in self.grants.values() if g.subject == subject and not g.revoked]
            for grant in hits:
                self.revoke_grant(grant.grant_id)
            for key in [k for k in self.consents if k[1] == subject]:
                del self.consents[key]
            return len(hits)
