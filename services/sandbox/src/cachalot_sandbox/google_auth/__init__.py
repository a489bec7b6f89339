"""Sandbox: Google OAuth 2.0 / OpenID Connect and the YouTube identity call.

Set ``CACHALOT_GOOGLE_AUTH_BASE`` and ``CACHALOT_GOOGLE_TOKEN_BASE`` to
``…/google`` and ``CACHALOT_YOUTUBE_API_BASE`` to ``…/youtube``:

- ``GET|POST /google/o/oauth2/v2/auth`` (also ``/google/o/oauth2/auth``): consent page;
- ``POST /google/token``: ``authorization_code`` / ``refresh_token`` (no rotation);
- ``POST /google/revoke?token=…``: revokes the whole grant;
- ``GET /google/.well-known/openid-configuration``, ``GET /google/oauth2/v3/certs``;
- ``GET /google/v1/userinfo`` (openidconnect.googleapis.com),
  ``GET /youtube/oauth2/v3/userinfo`` and ``/youtube/oauth2/v2/userinfo`` (www.googleapis.com);
- ``GET /youtube/youtube/v3/channels?part=snippet&mine=true``;
- controls under ``/sandbox/oauth/google/``.
"""

from __future__ import annotations

from fastapi import APIRouter

from cachalot_sandbox.google_auth.identity import identity_router
from cachalot_sandbox.google_auth.server import STATE, oauth_router
from cachalot_sandbox.oauthkit.controls import control_router
from cachalot_sandbox.settings import SandboxSettings


def create_router(settings: SandboxSettings) -> APIRouter:
    STATE.set_redirect_uris(settings.redirect_uris("youtube"))
    STATE.set_defaults(
        {
            "access_token_lifetime_s": settings.access_token_lifetime_s,
            "refresh_token_lifetime_s": settings.refresh_token_lifetime_s,
        }
    )
    router = APIRouter()
    router.include_router(oauth_router(settings))
    router.include_router(identity_router(settings))
    router.include_router(control_router(STATE))
    return router


def reset() -> None:
    STATE.reset()
