"""Auth's platforms are the registry's: an OAuth client per OAuth platform, else a widget."""

from __future__ import annotations

import httpx

from cachalot_auth.api.public import SIGN_IN_PLATFORMS
from cachalot_auth.providers import build_providers
from cachalot_auth.providers.base import HttpCaller
from cachalot_auth.settings import AuthSettings
from cachalot_common import platforms
from cachalot_common.crypto import generate_key


async def test_every_oauth_platform_of_the_registry_has_exactly_one_provider() -> None:
    settings = AuthSettings(token_keys=f"v1:{generate_key()}", session_secret="s-0123456789abcdef")
    async with httpx.AsyncClient() as client:
        providers = build_providers(settings, HttpCaller(client, attempts=1, backoff_s=0))
    oauth = [n for n in platforms.names() if platforms.get(n).sign_in == "oauth"]
    assert list(providers) == oauth
    assert all(provider.name == name for name, provider in providers.items())
    assert [n for n, p in providers.items() if p.self_renewing] == ["instagram"]


def test_a_person_can_sign_in_with_every_platform_of_the_registry() -> None:
    assert platforms.names() == SIGN_IN_PLATFORMS
