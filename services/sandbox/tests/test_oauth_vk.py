"""The fake VK ID (OAuth 2.1) server: PKCE, device_id round trip, rotation."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from cachalot_sandbox.main import create_app
from cachalot_sandbox.settings import SandboxSettings

REDIRECT = "http://127.0.0.1:8000/api/v1/auth/vk/callback"
SETTINGS = SandboxSettings(vk_redirect_uris=[REDIRECT])
CLIENT_ID = SETTINGS.vk_client_id
TOKEN = "/vk/oauth2/auth"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(SETTINGS)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        (await client.post("/sandbox/reset")).raise_for_status()
        yield client


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def authorize(api: httpx.AsyncClient, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "s" * 32,
        "scope": "vkid.personal_info email wall video",
        "code_challenge": challenge,
        "code_challenge_method": "s256",
        "sandbox_auto": "allow",
        **extra,
    }
    response = await api.get("/vk/authorize", params=params)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def exchange(
    api: httpx.AsyncClient, cb: dict[str, str], verifier: str, **extra: str
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": cb["code"],
        "code_verifier": verifier,
        "client_id": CLIENT_ID,
        "device_id": cb["device_id"],
        "redirect_uri": REDIRECT,
        "state": cb["state"],
        **extra,
    }
    return await api.post(TOKEN, data=form)


async def refresh(api: httpx.AsyncClient, token: str, device_id: str) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": token,
        "client_id": CLIENT_ID,
        "device_id": device_id,
        "state": "r" * 32,
    }
    return await api.post(TOKEN, data=form)


async def signed_in(api: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, object]]:
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)
    response = await exchange(api, cb, verifier)
    assert response.status_code == 200, response.text
    return cb, dict(response.json())


async def test_the_full_flow_returns_tokens_and_user_info_with_the_granted_email(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)
    assert cb["type"] == "code_v2"
    assert cb["device_id"]

    tokens = (await exchange(api, cb, verifier)).json()

    assert tokens["state"] == cb["state"]
    assert tokens["user_id"] == 100000001
    assert tokens["scope"] == "vkid.personal_info email wall video"
    info = await api.post(
        "/vk/oauth2/user_info",
        data={"client_id": CLIENT_ID, "access_token": tokens["access_token"]},
    )
    assert info.json()["user"]["email"] == "alice@sandbox.example"
    assert "phone" not in info.json()["user"]
    public = await api.post(
        "/vk/oauth2/public_info", data={"client_id": CLIENT_ID, "id_token": tokens["id_token"]}
    )
    assert public.json()["user"]["user_id"] == "100000001"


async def test_an_on_demand_extra_user_signs_in_with_a_stable_numeric_vk_id(api):
    ids = []
    for _ in range(2):
        verifier, challenge = pkce_pair()
        cb = await authorize(api, challenge, sandbox_user="sandbox-extra-load-7")
        response = await exchange(api, cb, verifier)
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert isinstance(tokens["user_id"], int)
        ids.append(tokens["user_id"])
        info = await api.post(
            "/vk/oauth2/user_info",
            data={"client_id": CLIENT_ID, "access_token": tokens["access_token"]},
        )
        assert info.json()["user"]["user_id"] == str(tokens["user_id"])
        assert info.json()["user"]["first_name"] == "Extra"
    assert ids[0] == ids[1] != 100000001
    verifier, challenge = pkce_pair()
    other = await authorize(api, challenge, sandbox_user="sandbox-extra-load-8")
    assert (await exchange(api, other, verifier)).json()["user_id"] != ids[0]


async def test_pkce_is_mandatory_at_authorize(api):
    cb = await authorize(api, "", code_challenge_method="s256")

    assert cb["error"] == "invalid_request"
    assert "code_challenge" in cb["error_description"]


async def test_a_wrong_verifier_is_invalid_grant(api):
    _, challenge = pkce_pair()
    cb = await authorize(api, challenge)

    response = await exchange(api, cb, secrets.token_urlsafe(48))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["state"] == cb["state"]


async def test_a_different_device_id_at_exchange_is_invalid_grant(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)

    response = await exchange(api, cb, verifier, device_id="another-device")

    assert response.json()["error"] == "invalid_grant"


async def test_a_replayed_code_and_a_wrong_redirect_uri_are_invalid_grant(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)
    wrong = await exchange(api, cb, verifier, redirect_uri=REDIRECT + "/x")
    verifier2, challenge2 = pkce_pair()
    cb2 = await authorize(api, challenge2)
    assert (await exchange(api, cb2, verifier2)).status_code == 200

    replay = await exchange(api, cb2, verifier2)

    assert wrong.json()["error"] == "invalid_grant"
    assert replay.json()["error"] == "invalid_grant"


async def test_the_state_is_required_at_exchange(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)

    response = await exchange(api, {**cb, "state": ""}, verifier)

    assert response.json()["error"] == "invalid_request"


async def test_refresh_needs_the_same_device_id_and_rotates(api):
    cb, tokens = await signed_in(api)
    old = str(tokens["refresh_token"])

    wrong_device = await refresh(api, old, "other-device")
    rotated = await refresh(api, old, cb["device_id"])

    assert wrong_device.json()["error"] == "invalid_grant"
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != old


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_grant(api):
    cb, tokens = await signed_in(api)
    old = str(tokens["refresh_token"])
    new = (await refresh(api, old, cb["device_id"])).json()

    reuse = await refresh(api, old, cb["device_id"])
    after = await refresh(api, new["refresh_token"], cb["device_id"])
    info = await api.post(
        "/vk/oauth2/user_info", data={"client_id": CLIENT_ID, "access_token": new["access_token"]}
    )

    assert reuse.json()["error"] == "invalid_grant"
    assert after.json()["error"] == "invalid_grant"
    assert info.status_code == 401


async def test_logout_ends_the_session_tokens(api):
    cb, tokens = await signed_in(api)

    out = await api.post(
        "/vk/oauth2/logout", data={"client_id": CLIENT_ID, "access_token": tokens["access_token"]}
    )

    assert out.json() == {"response": 1}
    again = await refresh(api, str(tokens["refresh_token"]), cb["device_id"])
    assert again.json()["error"] == "invalid_grant"


async def test_denied_consent_redirects_with_access_denied(api):
    _, challenge = pkce_pair()

    cb = await authorize(api, challenge, sandbox_auto="deny")

    assert cb["error"] == "access_denied"
    assert cb["state"] == "s" * 32


async def test_a_fault_then_success_is_counted_per_grant_type(api):
    cb, tokens = await signed_in(api)
    await api.post("/sandbox/oauth/vk/faults", json={"status": 502})

    failed = await refresh(api, str(tokens["refresh_token"]), cb["device_id"])
    ok = await refresh(api, str(tokens["refresh_token"]), cb["device_id"])

    assert failed.status_code == 502
    assert ok.status_code == 200
    stats = (await api.get("/sandbox/oauth/vk/stats")).json()
    assert stats["token"] == {"authorization_code": 1, "refresh_token": 2}


async def test_auto_consent_set_to_deny_answers_a_plain_authorize_with_access_denied(api):
    await api.post("/sandbox/oauth/vk/config", json={"auto_consent": -1})
    _, challenge = pkce_pair()

    cb = await authorize(api, challenge, sandbox_auto="")

    assert cb["error"] == "access_denied"
