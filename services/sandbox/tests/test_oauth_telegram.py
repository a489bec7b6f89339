"""The Telegram Login Widget stand-in signs data exactly as Telegram documents."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI

from cachalot_sandbox.main import create_app
from cachalot_sandbox.settings import SandboxSettings

BOT_TOKEN = "987654321:AAtestTESTtestTESTtestTESTtestTESTte"
SETTINGS = SandboxSettings(telegram_bot_token=BOT_TOKEN, public_url="http://127.0.0.1:8000")
RETURN_TO = "http://127.0.0.1:8000/api/v1/auth/telegram/callback?next=%2Fdashboard"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(SETTINGS)


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


def verifies(data: dict[str, str], bot_token: str = BOT_TOKEN) -> bool:
    """core.telegram.org/widgets/login#checking-authorization, written out independently."""
    check = "\n".join(f"{k}={data[k]}" for k in sorted(data) if k != "hash")
    secret = hashlib.sha256(bot_token.encode()).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, data["hash"])


def returned(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith("http://127.0.0.1:8000/api/v1/auth/telegram/callback?")
    return dict(parse_qsl(urlsplit(location).query))


async def test_the_login_page_lists_fake_users_a_person_can_pick(api):
    page = await api.get("/sandbox/telegram/login", params={"return_to": RETURN_TO})

    assert page.status_code == 200
    assert "Log in with Telegram" in page.text
    assert 'value="700000001"' in page.text


async def test_picking_a_user_redirects_with_widget_data_whose_hash_verifies(api):
    response = await api.post(
        "/sandbox/telegram/login", data={"return_to": RETURN_TO, "user": "700000001"}
    )

    data = returned(response)
    assert data.pop("next") == "/dashboard"
    assert set(data) == {
        "id",
        "first_name",
        "last_name",
        "username",
        "photo_url",
        "auth_date",
        "hash",
    }
    assert data["id"] == "700000001"
    assert abs(int(data["auth_date"]) - time.time()) < 60
    assert verifies(data)


async def test_fields_a_user_lacks_are_omitted_and_the_hash_still_verifies(api):
    response = await api.get(
        "/sandbox/telegram/login",
        params={"return_to": RETURN_TO, "user": 700000003, "sandbox_auto": 1},
    )

    data = returned(response)
    data.pop("next")
    assert set(data) == {"id", "first_name", "auth_date", "hash"}
    assert data["first_name"] == "Карина"
    assert verifies(data)


async def test_a_tampered_field_or_another_bot_token_fails_verification(api):
    data = {
        k: str(v)
        for k, v in (await api.get("/sandbox/telegram/login-data?id=700000002")).json().items()
    }

    assert verifies(data)
    assert not verifies({**data, "id": "700000001"})
    assert not verifies(data, bot_token="111:other")


async def test_login_data_can_be_made_stale_for_freshness_tests(api):
    stale = int(time.time()) - 2 * 86400

    data = (
        await api.get("/sandbox/telegram/login-data", params={"id": 42, "auth_date": stale})
    ).json()

    assert data["auth_date"] == stale
    assert data["id"] == 42
    assert verifies({k: str(v) for k, v in data.items()})


async def test_login_data_can_carry_and_sign_fields_telegram_may_add(api):
    data = (
        await api.get(
            "/sandbox/telegram/login-data",
            params={"id": 42, "extra": ["allows_write_to_pm=true", "x_new=a=b"]},
        )
    ).json()
    refused = await api.get("/sandbox/telegram/login-data", params={"id": 42, "extra": "hash=1"})

    assert (data["allows_write_to_pm"], data["x_new"]) == ("true", "a=b")
    assert verifies({k: str(v) for k, v in data.items()})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "extra"


async def test_a_relative_return_to_is_a_problem_naming_the_field(api):
    response = await api.get("/sandbox/telegram/login", params={"return_to": "/dashboard"})

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "return_to"


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_a_return_to_off_the_bots_domain_is_refused_as_telegram_does(api, method):
    elsewhere = "https://evil.example/api/v1/auth/telegram/callback"
    fields = {"return_to": elsewhere, "user": "700000001", "sandbox_auto": "1"}
    if method == "GET":
        response = await api.get("/sandbox/telegram/login", params=fields)
    else:
        response = await api.post("/sandbox/telegram/login", data=fields)

    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["detail"] == "Bot domain invalid"
    assert response.json()["errors"][0]["field"] == "return_to"
