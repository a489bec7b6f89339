"""The fake TikTok Login Kit v2 server, driven over HTTP as the auth service drives it."""

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

REDIRECT = "https://app.example/api/v1/auth/tiktok/callback"
SETTINGS = SandboxSettings(tiktok_redirect_uris=[REDIRECT])
CLIENT_KEY = SETTINGS.tiktok_client_key
SECRET = SETTINGS.tiktok_client_secret.get_secret_value()
AUTHORIZE = "/tiktok/v2/auth/authorize/"
TOKEN = "/tiktok/v2/oauth/token/"


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
    return verifier, hashlib.sha256(verifier.encode()).hexdigest()


def callback(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def authorize(api: httpx.AsyncClient, challenge: str, **extra: str) -> dict[str, str]:
    params = {
        "client_key": CLIENT_KEY,
        "scope": "user.info.basic,video.upload,video.publish",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "state-123",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "sandbox_auto": "allow",
        **extra,
    }
    return callback(await api.get(AUTHORIZE, params=params))


async def exchange(
    api: httpx.AsyncClient, code: str, verifier: str, **extra: str
) -> httpx.Response:
    form = {
        "client_key": CLIENT_KEY,
        "client_secret": SECRET,
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **extra,
    }
    return await api.post(TOKEN, data=form)


async def refresh(api: httpx.AsyncClient, token: str) -> httpx.Response:
    form = {
        "client_key": CLIENT_KEY,
        "client_secret": SECRET,
        "grant_type": "refresh_token",
        "refresh_token": token,
    }
    return await api.post(TOKEN, data=form)


async def signed_in(api: httpx.AsyncClient) -> dict[str, object]:
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)
    response = await exchange(api, cb["code"], verifier)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def user_info(api: httpx.AsyncClient, token: str, fields: str) -> httpx.Response:
    return await api.get(
        "/tiktok/v2/user/info/",
        params={"fields": fields},
        headers={"Authorization": f"Bearer {token}"},
    )


async def test_the_full_code_flow_with_pkce_yields_tokens_the_user_info_api_accepts(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)
    assert cb["state"] == "state-123"
    assert cb["scopes"] == "user.info.basic,video.upload,video.publish"
    assert "*" in cb["code"]  # the URL-encoded code decodes to TikTok's odd characters

    response = await exchange(api, cb["code"], verifier)

    assert response.status_code == 200
    body = response.json()
    assert body["access_token"].startswith("act.")
    assert body["refresh_token"].startswith("rft.")
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "user.info.basic,video.upload,video.publish"
    assert body["expires_in"] == SETTINGS.access_token_lifetime_s
    assert body["refresh_expires_in"] == SETTINGS.refresh_token_lifetime_s
    info = await user_info(api, body["access_token"], "open_id,union_id,avatar_url,display_name")
    assert info.status_code == 200
    assert info.json()["error"]["code"] == "ok"
    assert info.json()["data"]["user"]["open_id"] == body["open_id"]
    assert info.json()["data"]["user"]["display_name"] == "Alice Sandbox"


async def test_the_consent_page_is_html_a_person_can_click(api):
    _, challenge = pkce_pair()
    params = {
        "client_key": CLIENT_KEY,
        "scope": "user.info.basic,video.publish",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }

    page = await api.get(AUTHORIZE, params=params)

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for text in ("CACHALOT", "TikTok", "video.publish", 'value="allow"', 'value="deny"'):
        assert text in page.text


async def test_the_consent_form_grants_only_the_checked_scopes(api):
    verifier, challenge = pkce_pair()
    form = {
        "client_key": CLIENT_KEY,
        "scope": "user.info.basic,video.upload,video.publish",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope_choice": "1",
        "granted_scope": ["user.info.basic", "video.upload"],
        "sandbox_user": "-000sandboxBobOpenId",
        "decision": "allow",
    }

    cb = callback(await api.post(AUTHORIZE, data=form))
    tokens = (await exchange(api, cb["code"], verifier)).json()

    assert cb["scopes"] == "user.info.basic,video.upload"
    assert tokens["scope"] == "user.info.basic,video.upload"
    assert tokens["open_id"] == "-000sandboxBobOpenId"


async def test_denying_consent_redirects_with_access_denied_and_the_state(api):
    _, challenge = pkce_pair()

    cb = await authorize(api, challenge, sandbox_auto="deny")

    assert cb["error"] == "access_denied"
    assert cb["state"] == "state-123"
    assert "code" not in cb


async def test_a_base64url_challenge_is_refused_when_the_sandbox_expects_hex(api):
    cb = await authorize(api, "A" * 43)

    assert cb["error"] == "invalid_request"
    assert "code challenge" in cb["error_description"]


async def test_an_unknown_client_key_shows_an_error_page_not_a_redirect(api):
    response = await api.get(AUTHORIZE, params={"client_key": "nope", "redirect_uri": REDIRECT})

    assert response.status_code == 400
    assert "invalid_client" in response.text


async def test_a_replayed_code_is_invalid_grant(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)
    assert (await exchange(api, cb["code"], verifier)).status_code == 200

    replay = await exchange(api, cb["code"], verifier)

    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    assert replay.json()["log_id"]


async def test_a_different_redirect_uri_at_exchange_is_invalid_grant(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)

    response = await exchange(api, cb["code"], verifier, redirect_uri=REDIRECT + "/other")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_a_wrong_code_verifier_is_refused_and_burns_the_code(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)

    wrong = await exchange(api, cb["code"], secrets.token_urlsafe(48))
    retry = await exchange(api, cb["code"], verifier)

    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_request"
    assert retry.json()["error"] == "invalid_grant"


async def test_an_expired_code_is_invalid_grant(api):
    await api.post("/sandbox/oauth/tiktok/config", json={"code_lifetime_s": 0})
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)

    response = await exchange(api, cb["code"], verifier)

    assert response.json()["error"] == "invalid_grant"


async def test_a_wrong_client_secret_is_invalid_client(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge)

    response = await exchange(api, cb["code"], verifier, client_secret="wrong")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_the_token_endpoint_accepts_only_form_bodies(api):
    response = await api.post(TOKEN, json={"grant_type": "refresh_token"})

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_refresh_rotates_and_reusing_the_old_refresh_token_revokes_the_grant(api):
    first = await signed_in(api)

    second = (await refresh(api, str(first["refresh_token"]))).json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await user_info(api, second["access_token"], "open_id")).status_code == 200

    reuse = await refresh(api, str(first["refresh_token"]))
    assert reuse.json()["error"] == "invalid_grant"
    after = await refresh(api, second["refresh_token"])
    assert after.json()["error"] == "invalid_grant"
    dead = await user_info(api, second["access_token"], "open_id")
    assert dead.status_code == 401
    assert dead.json()["error"]["code"] == "access_token_invalid"


async def test_a_configured_short_lifetime_expires_the_access_token(api):
    await api.post("/sandbox/oauth/tiktok/config", json={"access_token_lifetime_s": 0})
    tokens = await signed_in(api)

    response = await user_info(api, str(tokens["access_token"]), "open_id")

    assert tokens["expires_in"] == 0
    assert response.status_code == 401


async def test_revoke_kills_the_access_and_the_refresh_token(api):
    tokens = await signed_in(api)

    revoked = await api.post(
        "/tiktok/v2/oauth/revoke/",
        data={"client_key": CLIENT_KEY, "client_secret": SECRET, "token": tokens["access_token"]},
    )

    assert revoked.status_code == 200
    assert (await user_info(api, str(tokens["access_token"]), "open_id")).status_code == 401
    assert (await refresh(api, str(tokens["refresh_token"]))).json()["error"] == "invalid_grant"


async def test_user_info_needs_the_scope_behind_each_field(api):
    tokens = await signed_in(api)

    response = await user_info(api, str(tokens["access_token"]), "open_id,follower_count")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "scope_not_authorized"


async def test_queued_faults_answer_the_next_calls_and_stats_count_each_grant_type(api):
    tokens = await signed_in(api)
    queued = await api.post(
        "/sandbox/oauth/tiktok/faults",
        json=[{"status": 503}, {"error": "invalid_grant", "grant_type": "refresh_token"}],
    )
    assert queued.json() == {"pending": 2}

    first = await refresh(api, str(tokens["refresh_token"]))
    second = await refresh(api, str(tokens["refresh_token"]))
    third = await refresh(api, str(tokens["refresh_token"]))

    assert first.status_code == 503
    assert second.json()["error"] == "invalid_grant"
    assert third.status_code == 200
    stats = (await api.get("/sandbox/oauth/tiktok/stats")).json()
    assert stats["token"] == {"authorization_code": 1, "refresh_token": 3}
    assert stats["pending_faults"] == 0


async def test_an_unknown_config_key_is_a_problem_naming_it(api):
    response = await api.post("/sandbox/oauth/tiktok/config", json={"acess_token_ttl": 1})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "acess_token_ttl"


async def test_the_challenge_encoding_can_be_switched_to_base64url_at_run_time(api):
    await api.post("/sandbox/oauth/tiktok/config", json={"pkce_hex": 0})
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    cb = await authorize(api, challenge)
    response = await exchange(api, cb["code"], verifier)

    assert response.status_code == 200, response.text


async def test_a_sandbox_extra_user_is_made_on_demand_and_an_unknown_one_is_refused(api):
    verifier, challenge = pkce_pair()
    cb = await authorize(api, challenge, sandbox_user="sandbox-extra-load-7")
    tokens = (await exchange(api, cb["code"], verifier)).json()
    assert tokens["open_id"] == "sandbox-extra-load-7"

    params = {
        "client_key": CLIENT_KEY,
        "scope": "user.info.basic",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "sandbox_auto": "allow",
        "sandbox_user": "someone-else",
    }
    refused = await api.get(AUTHORIZE, params=params)
    assert refused.status_code == 400
    assert "Unknown sandbox_user" in refused.text
