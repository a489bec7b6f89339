"""Sandbox: TikTok Login Kit v2 OAuth server and the user-info endpoint.

Paths (prefix ``/tiktok`` stands for both www.tiktok.com and
open.tiktokapis.com, so ``CACHALOT_TIKTOK_AUTH_BASE`` and
``CACHALOT_TIKTOK_API_BASE`` may both point at ``…/tiktok``):

- ``GET|POST /tiktok/v2/auth/authorize/``: consent page (see
  :mod:`cachalot_sandbox.oauthkit.consent` for ``sandbox_auto``);
- ``POST /tiktok/v2/oauth/token/``: ``authorization_code`` and
  ``refresh_token`` grants (refresh tokens rotate; re-use revokes the grant);
- ``POST /tiktok/v2/oauth/revoke/``: revokes the grant of an access token;
- ``GET /tiktok/v2/user/info/?fields=…``: the v2 envelope;
- controls under ``/sandbox/oauth/tiktok/`` (:mod:`cachalot_sandbox.oauthkit.controls`);
  extra config keys: ``pkce_hex`` (1 = hex challenge as the desktop doc says, 0 =
  base64url; default from ``CACHALOT_TIKTOK_PKCE_ENCODING``) and ``pkce_required``.
"""

from __future__ import annotations

from fastapi import APIRouter

from cachalot_sandbox.oauthkit.controls import control_router
from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.tiktok_auth.server import STATE, api_router


def create_router(settings: SandboxSettings) -> APIRouter:
    STATE.set_redirect_uris(settings.redirect_uris("tiktok"))
    STATE.set_defaults(
        {
            "access_token_lifetime_s": settings.access_token_lifetime_s,
            "refresh_token_lifetime_s": settings.refresh_token_lifetime_s,
            "pkce_hex": 1 if settings.tiktok_pkce_encoding == "hex" else 0,
        }
    )
    router = APIRouter()
    router.include_router(api_router(settings))
    router.include_router(control_router(STATE))
    return router


def reset() -> None:
    STATE.reset()
