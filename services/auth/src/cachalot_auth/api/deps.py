"""Shared request plumbing: the session cookie and the composition's services."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from cachalot_auth.clients import ClientService
from cachalot_auth.leasing import TokenKeeper
from cachalot_auth.posts_archive import PostsArchive
from cachalot_auth.ratelimit import IpRateLimit
from cachalot_auth.service_tokens import SpentTokens
from cachalot_auth.settings import AuthSettings
from cachalot_auth.signin import SignInService
from cachalot_common.sessions import COOKIE_NAME, Session, SessionError, read_session


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


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


async def current_session(request: Request) -> Session | None:
    """The live session the cookie proves, or None.

    Signature and expiry are checked here, then our sessions table: a session
    ended by logout or erasure is no session at all, on every endpoint
    (including sign-in, which then starts afresh).
    """
    svc = services(request)
    try:
        session = read_session(
            request.cookies.get(COOKIE_NAME), secret=svc.settings.session_secret.get_secret_value()
        )
    except SessionError:
        return None
    return await svc.clients.live(session)
