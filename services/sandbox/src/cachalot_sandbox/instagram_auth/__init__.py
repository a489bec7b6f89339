"""Sandbox: Instagram API with Instagram Login (Business Login for Instagram).

One prefix ``/instagram`` stands for all three real hosts, so
``CACHALOT_INSTAGRAM_AUTH_BASE`` and ``CACHALOT_INSTAGRAM_API_BASE`` may both
be ``…/instagram``:

- www.instagram.com / api.instagram.com: ``GET|POST /instagram/oauth/authorize``
  (consent page; the callback's code carries the ``#_`` fragment) and
  ``POST /instagram/oauth/access_token`` (code → short-lived token, form or
  multipart, answers ``{"data":[{access_token,user_id,permissions}]}``);
- graph.instagram.com (optionally with a ``/vNN.N`` segment):
  ``GET /instagram/access_token?grant_type=ig_exchange_token`` (short → long-lived),
  ``GET /instagram/refresh_access_token?grant_type=ig_refresh_token`` (long-lived,
  at least ``min_refresh_age_s`` old and unexpired) and ``GET /instagram/me?fields=…``;
- controls under ``/sandbox/oauth/instagram/`` (keys ``access_token_lifetime_s`` =
  long-lived lifetime, ``short_lived_lifetime_s``, ``code_lifetime_s``,
  ``min_refresh_age_s``).

Errors use the Graph shape ``{"error":{message,type,code,fbtrace_id}}``.
"""

from __future__ import annotations

from fastapi import APIRouter

from cachalot_sandbox.instagram_auth.server import STATE, api_router
from cachalot_sandbox.oauthkit.controls import control_router
from cachalot_sandbox.settings import SandboxSettings


def create_router(settings: SandboxSettings) -> APIRouter:
    STATE.set_redirect_uris(settings.redirect_uris("instagram"))
    router = APIRouter()
    router.include_router(api_router(settings))
    router.include_router(control_router(STATE))
    return router


def reset() -> None:
    STATE.reset()
