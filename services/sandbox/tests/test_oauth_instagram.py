"""The fake Instagram Login server: code → short-lived → long-lived → refreshed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from cachalot_sandbox.main import create_app
from cachalot_sandbox.settings import SandboxSettings

REDIRECT = "https://app.example/api/v1/auth/instagram/callback"
SETTINGS = SandboxSettings(instagram_redirect_uris=[REDIRECT])
APP_ID = SETTINGS.instagram_client_id
SECRET = SETTINGS.instagram_client_secret.get_secret_value()
SCOPES = "instagram_business_basic,instagram_business_content_publish"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(SETTINGS)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        (await client.post("/sandbox/reset")).raise_for_status()
        yield client


async def authorize(api: httpx.AsyncClient, **extra: str) -> tuple[dict[str, str], str]:
    params = {
        "client_id": APP_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": SCOPES,
        "state": "st",
        "sandbox_auto": "allow",
        **extra,
    }
    response = await api.get("/instagram/oauth/authorize", params=params)
    assert response.status_code == 302, response.text
    parts = urlsplit(response.headers["location"])
    return {k: v[0] for k, v in parse_qs(parts.query).items()}, parts.fragment


async def exchange(api: httpx.AsyncClient, code: str, **extra: str) -> httpx.Response:
    form = {
        "client_id": APP_ID,
        "client_secret": SECRET,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code": code,
        **extra,
    }
    return await api.post("/instagram/oauth/access_token", data=form)


async def short_lived(api: httpx.AsyncClient) -> dict[str, str]:
    cb, _ = await authorize(api)
    response = await exchange(api, cb["code"])
    assert response.status_code == 200, response.text
    return dict(response.json()["data"][0])


async def long_lived(api: httpx.AsyncClient, short: str) -> httpx.Response:
    return await api.get(
        "/instagram/access_token",
        params={"grant_type": "ig_exchange_token", "client_secret": SECRET, "access_token": short},
    )


async def refresh(api: httpx.AsyncClient, token: str, path: str = "/instagram") -> httpx.Response:
    return await api.get(
        f"{path}/refresh_access_token",
        params={"grant_type": "ig_refresh_token", "access_token": token},
    )


async def test_code_to_short_to_long_lived_token_then_me(api):
    cb, fragment = await authorize(api)
    assert fragment == "_"
    assert cb["state"] == "st"

    short = (await exchange(api, cb["code"])).json()["data"][0]
    long = await long_lived(api, short["access_token"])

    assert short["permissions"] == SCOPES
    assert long.status_code == 200
    assert long.json()["token_type"] == "bearer"
    assert long.json()["expires_in"] == 5184000
    me = await api.get(
        "/instagram/v23.0/me",
        params={"fields": "user_id,username", "access_token": long.json()["access_token"]},
    )
    assert me.json()["user_id"] == short["user_id"]
    assert me.json()["username"] == "alice.sandbox"


async def test_a_long_lived_token_younger_than_24_hours_cannot_be_refreshed(api):
    short = await short_lived(api)
    long = (await long_lived(api, short["access_token"])).json()["access_token"]

    response = await refresh(api, long)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "OAuthException"
    assert error["fbtrace_id"]
    assert "24 hours" in error["message"]


async def test_with_the_age_rule_relaxed_a_long_lived_token_is_refreshed(api):
    await api.post("/sandbox/oauth/instagram/config", json={"min_refresh_age_s": 0})
    short = await short_lived(api)
    long = (await long_lived(api, short["access_token"])).json()["access_token"]

    response = await refresh(api, long, path="/instagram/v23.0")

    assert response.status_code == 200
    assert response.json()["access_token"] != long
    stats = (await api.get("/sandbox/oauth/instagram/stats")).json()
    assert stats["token"] == {
        "authorization_code": 1,
        "ig_exchange_token": 1,
        "ig_refresh_token": 1,
    }


async def test_an_expired_long_lived_token_cannot_be_refreshed(api):
    await api.post(
        "/sandbox/oauth/instagram/config",
        json={"min_refresh_age_s": 0, "access_token_lifetime_s": 0},
    )
    short = await short_lived(api)
    long = (await long_lived(api, short["access_token"])).json()["access_token"]

    response = await refresh(api, long)

    assert response.json()["error"]["code"] == 190


async def test_a_short_lived_token_cannot_be_refreshed(api):
    short = await short_lived(api)

    response = await refresh(api, short["access_token"])

    assert response.status_code == 400


async def test_a_replayed_code_is_refused(api):
    cb, _ = await authorize(api)
    assert (await exchange(api, cb["code"])).status_code == 200

    replay = await exchange(api, cb["code"])

    assert replay.status_code == 400
    assert replay.json()["error"]["type"] == "OAuthException"


async def test_a_code_with_the_fragment_left_on_is_refused(api):
    cb, _ = await authorize(api)

    response = await exchange(api, cb["code"] + "#_")

    assert response.status_code == 400


async def test_a_different_redirect_uri_is_refused(api):
    cb, _ = await authorize(api)

    response = await exchange(api, cb["code"], redirect_uri=REDIRECT + "/x")

    assert "redirect_uri" in response.json()["error"]["message"]


async def test_a_wrong_app_secret_is_refused_everywhere(api):
    cb, _ = await authorize(api)
    short = await short_lived(api)

    exchanged = await exchange(api, cb["code"], client_secret="nope")
    upgraded = await api.get(
        "/instagram/access_token",
        params={
            "grant_type": "ig_exchange_token",
            "client_secret": "nope",
            "access_token": short["access_token"],
        },
    )

    assert exchanged.json()["error"]["code"] == 101
    assert upgraded.json()["error"]["code"] == 101


async def test_denied_consent_carries_the_instagram_error_reason(api):
    cb, _ = await authorize(api, sandbox_auto="deny")

    assert cb["error"] == "access_denied"
    assert cb["error_reason"] == "user_denied"
    assert cb["state"] == "st"


async def test_the_code_exchange_accepts_multipart_and_refuses_json(api):
    cb, _ = await authorize(api)
    fields = {
        "client_id": APP_ID,
        "client_secret": SECRET,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT,
        "code": cb["code"],
    }

    as_json = await api.post("/instagram/oauth/access_token", json=fields)
    as_multipart = await api.post(
        "/instagram/oauth/access_token", files={k: (None, v) for k, v in fields.items()}
    )

    assert as_json.status_code == 400
    assert as_multipart.status_code == 200


async def test_a_queued_transient_fault_answers_one_refresh(api):
    await api.post("/sandbox/oauth/instagram/config", json={"min_refresh_age_s": 0})
    short = await short_lived(api)
    long = (await long_lived(api, short["access_token"])).json()["access_token"]
    await api.post(
        "/sandbox/oauth/instagram/faults", json=[{"status": 500, "grant_type": "ig_refresh_token"}]
    )

    failed = await refresh(api, long)
    ok = await refresh(api, long)

    assert failed.status_code == 500
    assert failed.json()["error"]["is_transient"] is True
    assert ok.status_code == 200


async def test_an_on_demand_user_is_named_like_a_person_not_usersandbox_extra(api):
    cb, _ = await authorize(api, sandbox_user="sandbox-extra-load7")
    short = (await exchange(api, cb["code"])).json()["data"][0]
    long = (await long_lived(api, short["access_token"])).json()["access_token"]
    me = await api.get(
        "/instagram/v23.0/me", params={"fields": "user_id,username", "access_token": long}
    )
    assert me.json()["username"] == "extra.load7"
    assert "usersandbox" not in me.text
