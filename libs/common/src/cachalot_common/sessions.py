"""The client session cookie, shared by every service that serves clients.

The auth service issues it at sign-in; queue (and any other client-facing
service) verifies it locally with the same ``CACHALOT_SESSION_SECRET``, so no
call to auth is needed per request. The cookie is a signed, expiring token
(HS256 JWT) holding the client id, a session id and when it was issued; auth
keeps the session id in its database so logout and erasure revoke it there.

Every other service learns of those ends from auth's ``sessions.v1`` feed
(:class:`~cachalot_common.events.SessionEnded`) and keeps them in a
:class:`RevocationList`; :class:`SessionVerifier` checks signature, expiry
and that list, and :data:`CurrentSession` / :data:`CurrentClient` are the
FastAPI dependencies every client endpoint uses, so all services refuse an
ended session the same way (401 problem+json) within seconds of the logout.

A session has a **role** (the ``role`` claim, DESIGN.md "Roles"): ``client``
(signed in with a platform account) or ``operator`` (signed in with Telegram,
allowed by ``CACHALOT_OPERATOR_TELEGRAM_IDS``). :data:`CurrentClient` refuses
an operator's session and :data:`CurrentOperator` a client's, with a 403
problem (:data:`WRONG_ROLE`), so neither can ever pass as the other. A token
without the claim (issued before roles existed) is a client's.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Final, Literal, Protocol, get_args
from uuid import UUID

import jwt
from fastapi import Depends, FastAPI, Request

from cachalot_common.problems import Problem
from cachalot_common.text import truncate

COOKIE_NAME = "cachalot_session"
ALGORITHM = "HS256"
AUDIENCE = "cachalot-dashboard"
WRONG_ROLE: Final = "https://cachalot.dev/problems/wrong-role"

Role = Literal["client", "operator"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)


class SessionError(Exception):
    """No valid session: the client must sign in."""


class SessionRevoked(SessionError):
    """A session with a valid signature that its client ended (logout, erasure)."""


@dataclass(frozen=True, slots=True)
class Session:
    """What a session cookie proves; times are Unix seconds (the JWT's ``exp``, ``iat``).

    ``client_id`` is the subject: the client's id, or for ``role="operator"``
    the operator's id (derived from the Telegram user id, see cachalot_auth.operators).
    """

    client_id: UUID
    session_id: str
    expires_at: int
    issued_at: int = 0
    role: Role = "client"
    name: str | None = None
    """An operator's Telegram name at sign-in (first and last name, else @username), which
    the queue records beside their acts (the ``name`` claim); None for clients."""


NAME_MAX_CHARS = 200
"""The longest ``name`` a session carries (the queue's ``audit_entries.actor_name``)."""


def issue_session(
    *,
    client_id: UUID,
    secret: str,
    lifetime_s: int,
    role: Role = "client",
    name: str | None = None,
) -> tuple[str, Session]:
    """A new session token (``role`` in its ``role`` claim, ``name`` in ``name`` when given,
    cut to :data:`NAME_MAX_CHARS`) and what it holds."""
    name = truncate(name, NAME_MAX_CHARS) if name else None
    now = int(time.time())
    session = Session(
        client_id=client_id,
        session_id=uuid.uuid4().hex,
        expires_at=now + lifetime_s,
        issued_at=now,
        role=role,
        name=name,
    )
    token = jwt.encode(
        {
            "sub": str(client_id),
            "sid": session.session_id,
            "aud": AUDIENCE,
            "iat": now,
            "exp": session.expires_at,
            "role": role,
            **({"name": name} if name else {}),
        },
        secret,
        algorithm=ALGORITHM,
    )
    return token, session


def read_session(token: str | None, *, secret: str) -> Session:
    """Verify a session token's signature and expiry; any defect is a :class:`SessionError`.

    It does not know about revocations: a cheap check (e.g. before reading a
    body). Client endpoints use :class:`SessionVerifier` through
    :data:`CurrentSession`. A token without ``iat`` counts as issued at 0,
    one without ``role`` as a client's; an unknown role is a :class:`SessionError`.
    """
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
        role = claims.get("role", "client")
        if role not in ROLES:
            raise SessionError("session of an unknown role")
        return Session(
            client_id=UUID(str(claims["sub"])),
            session_id=str(claims["sid"]),
            expires_at=int(claims["exp"]),
            issued_at=int(claims.get("iat", 0)),
            role=role,
            name=truncate(str(claims["name"]), NAME_MAX_CHARS) if claims.get("name") else None,
        )
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise SessionError("session invalid or expired") from error


class RevocationList(Protocol):
    """Sessions ended before their expiry, as a service knows them."""

    def is_revoked(self, session: Session) -> bool:
        """Whether ``session`` was ended (logout, sign-out everywhere, erasure)."""
        ...


class MemoryRevocations:
    """An in-process :class:`RevocationList`, filled from the ``sessions.v1`` feed.

    Two maps: ended session ids, and per client the latest ``issued_up_to``
    cut (every session of that client issued at or before it is ended). Each
    entry is kept until the sessions it ends expire (``expires_at``, Unix
    seconds); :meth:`prune` drops the ones past it. Adding is idempotent, so
    a redelivered event changes nothing.

    A cut compares whole seconds (``iat`` has no more): a session issued in
    the very second of a cut, after it, is refused too and must sign in
    again. An erased client gets no new session at all (its id is gone).
    """

    def __init__(self) -> None:
        self._sessions: dict[str, int] = {}
        self._clients: dict[UUID, tuple[int, int]] = {}

    def revoke_session(self, session_id: str, *, expires_at: int) -> None:
        """End one session until ``expires_at`` (Unix seconds)."""
        self._sessions[session_id] = max(expires_at, self._sessions.get(session_id, 0))

    def revoke_client(self, client_id: UUID, *, issued_up_to: float, expires_at: int) -> None:
        """End every session of ``client_id`` issued at or before ``issued_up_to`` (Unix s)."""
        cut, until = self._clients.get(client_id, (0, 0))
        self._clients[client_id] = (max(cut, int(issued_up_to)), max(until, expires_at))

    def is_revoked(self, session: Session) -> bool:
        if session.session_id in self._sessions:
            return True
        cut = self._clients.get(session.client_id)
        return cut is not None and session.issued_at <= cut[0]

    def prune(self, now: float) -> int:
        """Forget entries whose sessions have all expired at ``now`` (Unix s); how many."""
        ended = [sid for sid, until in self._sessions.items() if until <= now]
        for sid in ended:
            del self._sessions[sid]
        gone = [cid for cid, (_, until) in self._clients.items() if until <= now]
        for cid in gone:
            del self._clients[cid]
        return len(ended) + len(gone)

    def __len__(self) -> int:
        return len(self._sessions) + len(self._clients)


class SessionVerifier:
    """Signature, expiry and revocation: the whole check of a session cookie.

    Nothing here calls auth: the secret is shared and the revocation list is
    fed by ``sessions.v1``.
    """

    def __init__(self, *, secret: str, revocations: RevocationList) -> None:
        self._secret = secret
        self._revocations = revocations

    def verify(self, token: str | None) -> Session:
        """The live session ``token`` proves.

        Raises :class:`SessionError` (missing, forged, expired) or its
        subclass :class:`SessionRevoked` (valid but ended by the client).
        """
        session = read_session(token, secret=self._secret)
        if self._revocations.is_revoked(session):
            raise SessionRevoked("session ended")
        return session


def install_session_verifier(app: FastAPI, verifier: SessionVerifier) -> None:
    """Make ``verifier`` the one :data:`CurrentSession` uses in ``app``."""
    app.state.session_verifier = verifier


async def current_session(request: Request) -> Session:
    """The live session of the request's cookie, or a 401 problem.

    The app must have a verifier (:func:`install_session_verifier`). This and the two
    dependencies below are coroutines: FastAPI runs a plain ``def`` dependency in a worker
    thread, a thread hand-off per dependency per request (issue 9: creating a post went
    through three).
    """
    verifier: SessionVerifier = request.app.state.session_verifier
    try:
        return verifier.verify(request.cookies.get(COOKIE_NAME))
    except SessionRevoked as error:
        raise Problem(
            401,
            "This session has ended (signed out or erased); sign in again.",
            title="Not signed in",
        ) from error
    except SessionError as error:
        raise Problem(
            401, "Sign in first: this needs a valid session.", title="Not signed in"
        ) from error


CurrentSession = Annotated[Session, Depends(current_session)]


def wrong_role(needed: Role) -> Problem:
    """The 403 problem for a live session of the other role (type :data:`WRONG_ROLE`)."""
    if needed == "client":
        detail = "This is a client's endpoint; an operator's session may not use it."
    else:
        detail = "This is an operator's endpoint; sign in as an operator with Telegram."
    return Problem(403, detail, title="Wrong role", type_=WRONG_ROLE, role_required=needed)


async def current_client(session: CurrentSession) -> UUID:
    """The signed-in client's id (see :func:`current_session`); 403 for an operator."""
    if session.role != "client":
        raise wrong_role("client")
    return session.client_id


CurrentClient = Annotated[UUID, Depends(current_client)]


async def current_operator(session: CurrentSession) -> Session:
    """The signed-in operator's live session; 401 without one, 403 for a client's."""
    if session.role != "operator":
        raise wrong_role("operator")
    return session


CurrentOperator = Annotated[Session, Depends(current_operator)]
