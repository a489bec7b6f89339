"""The client session cookie, shared by every service that serves clients.

The auth service issues it at sign-in; queue (and any other client-facing
service) verifies it locally with the same ``CACHALOT_SESSION_SECRET``, so no
call to auth is needed per request. The cookie is a signed, expiring token
(HS256 JWT) holding the client id and a session id; auth keeps the session
id in its database so logout and erasure revoke it there, and the short
lifetime bounds how long another service may still accept it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from uuid import UUID

import jwt

COOKIE_NAME = "cachalot_session"
ALGORITHM = "HS256"
AUDIENCE = "cachalot-dashboard"


class SessionError(Exception):
    """No valid session: the client must sign in."""


@dataclass(frozen=True, slots=True)
class Session:
    client_id: UUID
    session_id: str
    expires_at: int


def issue_session(*, client_id: UUID, secret: str, lifetime_s: int) -> tuple[str, Session]:
    """A new session token and what it holds."""
    now = int(time.time())
    session = Session(client_id=client_id, session_id=uuid.uuid4().hex, expires_at=now + lifetime_s)
    token = jwt.encode(
        {
            "sub": str(client_id),
            "sid": session.session_id,
            "aud": AUDIENCE,
            "iat": now,
            "exp": session.expires_at,
        },
        secret,
        algorithm=ALGORITHM,
    )
    return token, session


def read_session(token: str | None, *, secret: str) -> Session:
    """Verify a session token; any defect is a :class:`SessionError`."""
    if not token:
        raise SessionError("not signed in")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            options={"require": ["exp", "sub", "sid"]},
        )
        return Session(
            client_id=UUID(str(claims["sub"])),
            session_id=str(claims["sid"]),
            expires_at=int(claims["exp"]),
        )
    except (jwt.PyJWTError, ValueError) as error:
        raise SessionError("session invalid or expired") from error
