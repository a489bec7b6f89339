"""Sandbox: VK ID (OAuth 2.1) at id.vk.com's paths, prefix ``/vk``.

Set ``CACHALOT_VK_AUTH_BASE`` to ``…/vk``:

- ``GET|POST /vk/authorize``: consent page; PKCE S256 mandatory; the callback
  carries ``code``, ``state``, ``device_id``, ``type=code_v2``, ``expires_in``;
- ``POST /vk/oauth2/auth``: ``authorization_code`` (``code``, ``code_verifier``,
  ``device_id``, ``redirect_uri``, ``state``, ``client_id``) and ``refresh_token``
  (``refresh_token``, ``device_id``, ``state``, ``client_id``); refresh tokens rotate,
  re-use revokes the grant, ``device_id`` must round-trip;
- ``POST /vk/oauth2/user_info`` and ``/vk/oauth2/public_info``;
- ``POST /vk/oauth2/logout`` (ends the session's tokens) and ``/vk/oauth2/revoke``
  (also withdraws the consent);
- controls under ``/sandbox/oauth/vk/``.
"""

from __future__ import annotations

from fastapi import APIRouter

from cachalot_sandbox.oauthkit.controls import control_router
from cachalot_sandbox.settings import SandboxSettings
from cachalot_sandbox.vk_auth.server import STATE, api_router


def create_router(settings: SandboxSettings) -> APIRouter:
    STATE.set_redirect_uris(settings.redirect_uris("vk"))
    STATE.set_defaults(
        {
            "access_token_lifetime_s": settings.access_token_lifetime_s,
            "refresh_token_lifetime_s": settings.refresh_token_lifetime_s,
        }
    )
    router = APIRouter()
    router.include_router(api_router(settings))
    router.include_router(control_router(STATE))
    return router


def reset() -> None:
    STATE.reset()
