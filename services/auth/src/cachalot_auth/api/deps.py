"""Shared request plumbing: the session cookie and the composition's services."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from cachalot_auth.clients import ClientService
from cachalot_auth.creator_info import CreatorInfo
from cachalot_auth.leasing import TokenKeeper
from cachalot_auth.notices import ClientNotices
from cachalot_auth.operators import OperatorService
from cachalot_auth.posts_archive import PostsArchive
from cachalot_auth.ratelimit import IpRateLimit
from cachalot_auth.service_tokens import SpentTokens
from cachalot_auth.settings import AuthSettings
from cachalot_auth.signin import SignInService
from cachalot_common.problems import Problem
from cachalot_common.sessions import (
    COOKIE_NAME,
    Session,
    SessionError,
    read_session,
    wrong_role,
)


@dataclass(slots=True)
class Services:
    settings: AuthSettings
    signin: SignInService
    clients: ClientService
    keeper: TokenKeeper
    rate_limit: IpRateLimit
    service_secrets: dict[str, str]
    posts_archive: PostsArchive
    spent_tokens: SpentTokens
    operators: OperatorService
    notices: ClientNotices
    creator_info: CreatorInfo | None = None  # None: TikTok is not set up


def services_of(request: Request) -> Services:
    """The composition's services (``app.state.services``)."""
    found: Services = request.app.state.services
    return found


async def services(request: Request) -> Services:
    """:func:`services_of` as a dependency. A coroutine: FastAPI runs a plain ``def``
    dependency in a worker thread, a thread hand-off per request for one attribute read
    (issue 9: about a twentieth of auth's CPU per lease)."""
    return services_of(request)


def signed_session(request: Request) -> Session | None:
    """The session the cookie proves by signature and expiry alone, or None."""
    try:
        return read_session(
            request.cookies.get(COOKIE_NAME),
            secret=services_of(request).settings.session_secret.get_secret_value(),
        )
    except SessionError:
        return None


async def current_session(request: Request) -> Session | None:
    """The live *client* session the cookie proves, or None.

    Signature and expiry are checked here, then our sessions table: a session
    ended by logout or erasure is no session at all, on every endpoint
    (including sign-in, which then starts afresh). An operator's session is
    never a client's (None here; :func:`refuse_operator` makes it a 403).
    """
    session = signed_session(request)
    if session is None or session.role != "client":
        return None
    return await services_of(request).clients.live(session)


async def refuse_operator(request: Request) -> None:
    """403 (wrong role) on a client endpoint when the cookie is a live operator's session."""
    session = signed_session(request)
    if (
        session is not None
        and session.role == "operator"
        and await services_of(request).operators.live(session) is not None
    ):
        raise wrong_role("client")


async def current_operator(request: Request) -> Session:
    """The live operator session: 401 without a live session, 403 for a client's."""
    session = signed_session(request)
    if (
        session is not None
        and session.role == "client"
        and await services_of(request).clients.live(session) is not None
    ):
        raise wrong_role("operator")
    live = await services_of(request).operators.live(session)
    if live is None:
        raise Problem(
            401,
            "Sign in as an operator first (Telegram).",
            title="Not signed in",
            type_="https://cachalot.dev/problems/not-signed-in",
        )
    return live


def callback_params(request: Request) -> dict[str, str]:
    """A sign-in callback's query fields, each sent once: ``{name: value}``.

    A field sent more than once (``?id=1&id=2``) is refused, never read
    "last value wins": the Telegram Login Widget's data-check-string has each
    field once (core.telegram.org/widgets/login#checking-authorization), and a
    reader that picks one of two values may check the hash over one and take
    the identity from the other. The same holds for an OAuth callback's
    ``code`` and ``state`` (RFC 6749 §3.1: "Request and response parameters
    MUST NOT be included more than once"). Raises :class:`Problem` 400 naming
    every repeated field.
    """
    query = request.query_params
    repeated = sorted({key for key in query if len(query.getlist(key)) > 1})
    if repeated:
        names = ", ".join(repeated)
        raise Problem(
            400,
            f"The sign-in answer repeats {names}: each field must be sent once. Start the "
            "sign-in again from the dashboard.",
            title="Repeated sign-in field",
            errors=[
                {"field": key, "in": "query", "message": "sent more than once"} for key in repeated
            ],
        )
    return dict(query)
