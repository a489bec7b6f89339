"""The fake Google OAuth / OIDC server and YouTube identity call over HTTP."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from fastapi import FastAPI

from cachalot_sandbox.main import create_app
from cachalot_sandbox.settings import SandboxSettings

REDIRECT = "http://127.0.0.1:8000/api/v1/auth/youtube/callback"
SETTINGS = SandboxSettings(google_redirect_uris=[REDIRECT])
CLIENT_ID = SETTINGS.google_client_id
SECRET = SETTINGS.google_client_secret.get_secret_value()
UPLOAD = "https://www.googleapis.com/auth/youtube.upload"
READONLY = "https://www.googleapis.com/auth/youtube.readonly"
EMAIL = "https://www.googleapis.com/auth/userinfo.email"


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


async def authorize(api: httpx.AsyncClient, **extra: str) -> dict[str, str]:
    params = {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": f"openid email {UPLOAD} {READONLY}",
        "access_type": "offline",
        "state": "st",
        "sandbox_auto": "allow",
        **extra,
    }
    response = await api.get("/google/o/oauth2/v2/auth", params=params)
    assert response.status_code == 302, response.text
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}


async def exchange(api: httpx.AsyncClient, code: str, **extra: str) -> httpx.Response:
    form = {
        "code": code,
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "redirect_uri": REDIRECT,
        "grant_type": "authorization_code",
        **extra,
    }
    return await api.post("/google/token", data=form)


async def refresh(api: httpx.AsyncClient, token: str) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token}
    return await api.post("/google/token", data=form, auth=(CLIENT_ID, SECRET))


async def signed_in(api: httpx.AsyncClient, **extra: str) -> dict[str, str]:
    verifier, challenge = pkce_pair()
    cb = await authorize(
        api, code_challenge=challenge, code_challenge_method="S256", nonce="n-1", **extra
    )
    response = await exchange(api, cb["code"], code_verifier=verifier)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_full_flow_gives_offline_tokens_an_id_token_and_the_channel(api):
    tokens = await signed_in(api)

    assert tokens["refresh_token"]
    assert tokens["token_type"] == "Bearer"
    assert set(tokens["scope"].split(" ")) == {"openid", EMAIL, UPLOAD, READONLY}
    jwks = jwt.PyJWKSet.from_dict((await api.get("/google/oauth2/v3/certs")).json())
    claims = jwt.decode(
        tokens["id_token"], jwks.keys[0].key, algorithms=["RS256"], audience=CLIENT_ID
    )
    assert claims["iss"] == "https://accounts.google.com"
    assert claims["nonce"] == "n-1"
    assert claims["email"] == "alice@sandbox.example"
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    channels = await api.get(
        "/youtube/youtube/v3/channels", params={"part": "snippet", "mine": "true"}, headers=bearer
    )
    assert channels.status_code == 200
    assert channels.json()["items"][0]["snippet"]["title"] == "Alice Sandbox"
    info = await api.get("/google/v1/userinfo", headers=bearer)
    assert info.json()["sub"] == claims["sub"]


async def test_a_repeat_consent_without_prompt_consent_returns_no_refresh_token(api):
    await signed_in(api)

    again = await signed_in(api)
    forced = await signed_in(api, prompt="consent")

    assert "refresh_token" not in again
    assert forced["refresh_token"]


async def test_stats_count_the_authorizations_that_asked_for_consent_again(api):
    await signed_in(api)
    await signed_in(api, prompt="consent")
    await signed_in(api, prompt="select_account consent")

    stats = (await api.get("/sandbox/oauth/google/stats")).json()

    assert stats["consent_asked"] == 2


async def test_expired_refresh_tokens_die_while_google_still_remembers_the_consent(api):
    alice = "108000000000000000001"
    first = await signed_in(api)

    died = await api.post(f"/sandbox/oauth/google/users/{alice}/expire-refresh-tokens")
    dead = await refresh(api, first["refresh_token"])
    again = await signed_in(api)  # the consent is remembered: no prompt, no refresh token
    forced = await signed_in(api, prompt="consent")

    assert died.json() == {"expired_refresh_tokens": 1}
    assert dead.status_code == 400
    assert dead.json()["error"] == "invalid_grant"
    assert "refresh_token" not in again
    assert (await refresh(api, forced["refresh_token"])).status_code == 200


async def test_login_hint_picks_the_user_by_email_or_by_sub(api):
    bob = "108000000000000000002"
    by_sub = await signed_in(api, login_hint=bob)
    by_email = await signed_in(api, login_hint="bob@sandbox.example")

    for tokens in (by_sub, by_email):
        assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["sub"] == bob


async def test_online_access_never_returns_a_refresh_token(api):
    tokens = await signed_in(api, access_type="online")

    assert "refresh_token" not in tokens


async def test_refresh_does_not_rotate_and_the_refresh_token_keeps_working(api):
    tokens = await signed_in(api)

    first = await refresh(api, tokens["refresh_token"])
    second = await refresh(api, tokens["refresh_token"])

    assert first.status_code == second.status_code == 200
    assert "refresh_token" not in first.json()
    stats = (await api.get("/sandbox/oauth/google/stats")).json()
    assert stats["token"]["refresh_token"] == 2


async def test_revoking_the_access_token_also_kills_the_refresh_token(api):
    tokens = await signed_in(api)

    revoked = await api.post(
        "/google/revoke",
        params={"token": tokens["access_token"]},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert revoked.status_code == 200
    response = await refresh(api, tokens["refresh_token"])
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }


async def test_a_replayed_code_is_invalid_grant_and_revokes_the_first_tokens(api):
    cb = await authorize(api)
    first = (await exchange(api, cb["code"])).json()

    replay = await exchange(api, cb["code"])

    assert replay.json()["error"] == "invalid_grant"
    assert (await refresh(api, first["refresh_token"])).json()["error"] == "invalid_grant"


async def test_a_different_redirect_uri_is_redirect_uri_mismatch(api):
    cb = await authorize(api)

    response = await exchange(api, cb["code"], redirect_uri=REDIRECT + "x")

    assert response.status_code == 400
    assert response.json()["error"] == "redirect_uri_mismatch"


async def test_pkce_is_verified_when_a_challenge_was_sent(api):
    _, challenge = pkce_pair()
    cb = await authorize(api, code_challenge=challenge, code_challenge_method="S256")

    response = await exchange(api, cb["code"], code_verifier=secrets.token_urlsafe(48))

    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid code verifier.",
    }


async def test_a_denied_consent_redirects_with_access_denied(api):
    cb = await authorize(api, sandbox_auto="deny")

    assert cb == {
        "error": "access_denied",
        "error_description": "The user denied the request.",
        "state": "st",
    }


async def test_unchecking_a_scope_grants_the_rest_and_the_channel_call_needs_a_youtube_scope(api):
    cb = await authorize(api, sandbox_scopes=f"openid {UPLOAD}")
    tokens = (await exchange(api, cb["code"])).json()

    channels = await api.get(
        "/youtube/youtube/v3/channels",
        params={"part": "snippet", "mine": "true"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )

    assert cb["scope"] == f"openid {UPLOAD}"
    assert channels.status_code == 403
    assert channels.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"


async def test_a_user_without_a_channel_gets_no_items(api):
    cb = await authorize(api, sandbox_user="108000000000000000002")
    tokens = (await exchange(api, cb["code"])).json()

    channels = await api.get(
        "/youtube/youtube/v3/channels",
        params={"part": "snippet", "mine": "true"},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )

    assert channels.json()["pageInfo"]["totalResults"] == 0
    assert "items" not in channels.json()


async def test_a_sandbox_extra_user_is_made_on_demand_with_a_channel_of_its_own(api):
    channels = []
    for user in ("sandbox-extra-load-1", "sandbox-extra-load-2"):
        cb = await authorize(api, sandbox_user=user)
        tokens = (await exchange(api, cb["code"])).json()
        answer = await api.get(
            "/youtube/youtube/v3/channels",
            params={"part": "snippet", "mine": "true"},
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
        assert answer.status_code == 200
        channels.append(answer.json()["items"][0])
    assert channels[0]["id"] != channels[1]["id"]
    assert channels[0]["snippet"]["title"] == "Extra load-1"


async def test_prompt_none_without_prior_consent_is_consent_required(api):
    cb = await authorize(api, prompt="none", sandbox_auto="")

    assert cb["error"] == "consent_required"


async def test_a_wrong_client_secret_is_invalid_client(api):
    cb = await authorize(api)

    response = await exchange(api, cb["code"], client_secret="nope")

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_a_queued_fault_answers_the_next_refresh_with_a_500(api):
    tokens = await signed_in(api)
    await api.post(
        "/sandbox/oauth/google/faults", json={"status": 500, "grant_type": "refresh_token"}
    )

    failed = await refresh(api, tokens["refresh_token"])
    ok = await refresh(api, tokens["refresh_token"])

    assert failed.status_code == 500
    assert ok.status_code == 200


async def test_discovery_points_at_the_sandbox_endpoints(api):
    doc = (await api.get("/google/.well-known/openid-configuration")).json()

    assert doc["token_endpoint"] == "http://sandbox/google/token"
    assert doc["jwks_uri"] == "http://sandbox/google/oauth2/v3/certs"
