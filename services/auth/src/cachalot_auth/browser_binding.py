"""Binds a sign-in attempt to the browser that started it.

``state`` and the PKCE verifier travel in a signed, timestamped cookie
(itsdangerous) scoped to that platform's callback path and expiring in ten
minutes; the callback's ``state`` must equal the cookie's, and a server-side
row (keyed by the state's hash) makes each attempt single use. Also here:
the only place a ``next`` path is accepted, so sign-in never redirects off
our own origin.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE_PREFIX = "cachalot_oauth_"
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?#]*$")


class BindingError(Exception):
    """The attempt is not this browser's, expired, or was already used."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Attempt:
    platform: str
    state: str
    verifier: str | None
    next_path: str
    reconsented: bool = False
    """This attempt is the repeat, with consent, of one that brought no refresh token."""

    def __repr__(self) -> str:
        return f"Attempt(platform={self.platform}, next={self.next_path}, state=***)"


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def cookie_name(platform: str) -> str:
    return f"{COOKIE_PREFIX}{platform}"


def safe_next(value: str | None) -> str:
    """A same-origin path, or ``/``: no scheme, no host, no ``//`` or ``/\\`` tricks."""
    if not value or not _SAFE_PATH.match(value):
        return "/"
    if value.startswith(("//", "/\\")) or "\\" in value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


class AttemptSigner:
    def __init__(self, secret: str, *, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="cachalot-oauth-attempt")
        self.max_age_s = max_age_s

    def dump(self, attempt: Attempt) -> str:
        return self._serializer.dumps(
            {
                "p": attempt.platform,
                "s": attempt.state,
                "v": attempt.verifier,
                "n": attempt.next_path,
                "r": attempt.reconsented,
            }
        )

    def load(self, value: str | None, *, platform: str) -> Attempt:
        if not value:
            raise BindingError("state_missing")
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except SignatureExpired:
            raise BindingError("state_expired") from None
        except BadSignature:
            raise BindingError("state_invalid") from None
        if not isinstance(data, dict) or data.get("p") != platform:
            raise BindingError("state_invalid")
        return Attempt(
            platform=platform,
            state=str(data["s"]),
            verifier=data.get("v"),
            next_path=safe_next(data.get("n")),
            reconsented=data.get("r") is True,
        )
