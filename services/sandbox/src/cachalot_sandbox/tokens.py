"""Access tokens the fake OAuth servers issued, shared by the fake APIs.

The OAuth fakes (``tiktok_auth``, ``google_auth``…) issue tokens here; the
fake content APIs (``tiktok_content``, ``youtube_upload``…) check bearer
tokens here. Tests can mint, expire and revoke tokens through
``/sandbox/tokens`` without going through a consent page.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

from fastapi import APIRouter
from pydantic import BaseModel, Field


@dataclass
class IssuedToken:
    token: str
    platform: str
    subject: str
    scopes: frozenset[str]
    expires_at: float
    revoked: bool = False
    meta: dict[str, str] = field(default_factory=dict)

    def is_valid(self, now: float | None = None) -> bool:
        return not self.revoked and (now or time.time()) < self.expires_at


class TokenRegistry:
    """Thread-safe map of issued access tokens."""

    def __init__(self) -> None:
        self._tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def issue(
        self,
        *,
        platform: str,
        subject: str,
        scopes: frozenset[str] | set[str],
        lifetime_s: float,
        prefix: str = "",
        token: str | None = None,
    ) -> IssuedToken:
        value = token or f"{prefix}{secrets.token_urlsafe(32)}"
        issued = IssuedToken(
            token=value,
            platform=platform,
            subject=subject,
            scopes=frozenset(scopes),
            expires_at=time.time() + lifetime_s,
        )
        with self._lock:
            self._tokens[value] = issued
        return issued

    def lookup(self, platform: str, token: str) -> IssuedToken | None:
        with self._lock:
            issued = self._tokens.get(token)
        return issued if issued is not None and issued.platform == platform else None

    def revoke(self, token: str) -> bool:
        with self._lock:
            issued = self._tokens.get(token)
            if issued is None:
                return False
            issued.revoked = True
            return True

    def revoke_subject(self, platform: str, subject: str) -> int:
        with self._lock:
            hits = [
                t for t in self._tokens.values() if t.platform == platform and t.subject == subject
            ]
            for t in hits:
                t.revoked = True
        return len(hits)

    def expire_subject(self, platform: str, subject: str) -> int:
        """Make every access token of a subject expire now (fault tests)."""
        with self._lock:
            hits = [
                t for t in self._tokens.values() if t.platform == platform and t.subject == subject
            ]
            for t in hits:
                t.expires_at = 0
        return len(hits)

    def reset(self) -> None:
        with self._lock:
            self._tokens.clear()

    def values(self) -> list[str]:
        """Every access token issued so far (for leak checks in tests)."""
        with self._lock:
            return list(self._tokens)


registry = TokenRegistry()


class MintRequest(BaseModel):
    platform: str
    subject: str = Field(description="Platform user id (open_id, channel id…).")
    scopes: list[str] = Field(default_factory=list)
    lifetime_s: float = 3600


def create_router() -> APIRouter:
    router = APIRouter(prefix="/sandbox/tokens", tags=["sandbox: tokens"])

    @router.post("")
    async def mint(request: MintRequest) -> dict[str, object]:
        issued = registry.issue(
            platform=request.platform,
            subject=request.subject,
            scopes=set(request.scopes),
            lifetime_s=request.lifetime_s,
        )
        return {"access_token": issued.token, "expires_at": issued.expires_at}

    @router.post("/expire")
    async def expire(request: MintRequest) -> dict[str, int]:
        return {"expired": registry.expire_subject(request.platform, request.subject)}

    return router
