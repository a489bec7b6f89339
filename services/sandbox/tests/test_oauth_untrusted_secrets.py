"""The fake token endpoints refuse a client secret of any characters without a 5xx."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cachalot_sandbox.main import create_app
from cachalot_sandbox.oauthkit import pkce
from cachalot_sandbox.settings import SandboxSettings

SETTINGS = SandboxSettings()


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(SETTINGS))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


@pytest.mark.parametrize(
    ("path", "client"),
    [
        ("/tiktok/v2/oauth/token/", {"client_key": SETTINGS.tiktok_client_key}),
        ("/google/token", {"client_id": SETTINGS.google_client_id}),
        ("/vk/oauth2/auth", {"client_id": SETTINGS.vk_client_id}),
        ("/instagram/oauth/access_token", {"client_id": SETTINGS.instagram_client_id}),
    ],
)
async def test_a_non_ascii_client_secret_is_an_invalid_client_not_a_crash(
    api: httpx.AsyncClient, path: str, client: dict[str, str]
) -> None:
    form = {
        "grant_type": "authorization_code",
        "code": "x",
        "redirect_uri": "http://127.0.0.1/cb",
        "code_verifier": "v" * 43,
        "client_secret": "é",
        **client,
    }
    response = await api.post(path, data=form)
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize("challenge", ["é" * 43, "\u0000", ""])
def test_a_pkce_challenge_of_any_characters_simply_does_not_match(challenge: str) -> None:
    assert not pkce.verify("v" * 43, challenge, method="S256", encoding="base64url")
