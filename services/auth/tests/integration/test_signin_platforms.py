"""The full sign-in for every platform against the sandbox over real HTTP."""

from __future__ import annotations

import uuid

import httpx
import pytest


@pytest.mark.parametrize(
    ("platform", "name", "scope"),
    [
        ("tiktok", "Alice Sandbox", "video.publish"),
        ("youtube", None, "https://www.googleapis.com/auth/youtube.upload"),
        ("instagram", None, "instagram_business_content_publish"),
        ("vk", None, "wall"),
    ],
)
async def test_every_oauth_platform_signs_in_and_leases_a_token_it_accepts(
    auth, sign_in, consent, lease_client, fresh_sandbox, platform, name, scope
):
    if platform == "instagram":  # its tokens refresh only once a day old: allow it now
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                fresh_sandbox.oauth("instagram", "config"), json={"min_refresh_age_s": 0}
            )
            answer.raise_for_status()
    async with auth.browser() as browser:
        landed = await sign_in(browser, platform)
        assert landed.headers["location"] == f"/?connected={platform}", landed.headers["location"]
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
    assert account["platform"] == platform
    assert account["status"] == "ok"
    assert scope in account["scopes"]
    assert account["display_name"]
    if name:
        assert account["display_name"] == name
    async with httpx.AsyncClient() as http:
        client = lease_client(auth, http)
        lease = await client.lease(uuid.UUID(account["id"]), post_id=uuid.uuid4())
        forced = await client.lease(
            uuid.UUID(account["id"]), post_id=uuid.uuid4(), force_refresh=True
        )
    assert lease.access_token
    assert forced.access_token


async def test_google_is_asked_for_consent_at_every_sign_in_so_each_brings_a_refresh_token(
    auth, sign_in, consent, lease_client, platform_stats, fresh_sandbox
):
    async with auth.browser() as browser:
        first = await browser.get("/api/v1/auth/youtube/login")
        assert httpx.URL(first.headers["location"]).params.get("prompt") == "consent"
        await sign_in(browser, "youtube")
        await consent(browser)
        # signed in, with a refresh token held: a reconnect asks again all the same
        again = await browser.get("/api/v1/auth/youtube/login")
        assert httpx.URL(again.headers["location"]).params.get("prompt") == "consent"
        await sign_in(browser, "youtube")
        [account] = (await browser.get("/api/v1/accounts")).json()
    stats = await platform_stats(fresh_sandbox, "google")
    assert stats["consent_asked"] == 2
    assert stats["token"] == {"authorization_code": 2}  # no repeat was needed
    async with httpx.AsyncClient() as http:
        forced = await lease_client(auth, http).lease(
            uuid.UUID(account["id"]), post_id=uuid.uuid4(), force_refresh=True
        )
    assert forced.access_token


async def test_vk_keeps_the_device_id_for_refresh(auth, sign_in, consent):
    from sqlalchemy import select

    from cachalot_auth.models import Account

    async with auth.browser() as browser:
        await sign_in(browser, "vk")
        await consent(browser)
    async with auth.app.state.factory() as db:
        account = (await db.scalars(select(Account))).one()
    assert account.device_id


async def test_telegram_widget_sign_in_is_verified_and_stores_no_token(auth, sign_in):
    from sqlalchemy import select

    from cachalot_auth.models import Token

    async with auth.browser() as browser:
        landed = await sign_in(browser, "telegram")
        assert landed.headers["location"] == "/?connected=telegram"
        [account] = (await browser.get("/api/v1/accounts")).json()
    assert account["platform"] == "telegram"
    assert account["platform_user_id"] == "700000001"
    async with auth.app.state.factory() as db:
        assert (await db.scalars(select(Token))).all() == []


async def test_telegram_widget_data_with_a_bad_hash_or_stale_date_is_refused(
    auth, fresh_sandbox, query_of
):
    async with auth.browser() as browser:
        start = await browser.get("/api/v1/auth/telegram/login")
        return_to = httpx.URL(start.headers["location"]).params["return_to"]
        stale = (
            await browser.get(
                f"{fresh_sandbox.base_url}/sandbox/telegram/login-data",
                params={"id": "700000001", "auth_date": "1000000000"},
            )
        ).json()
        landed = await browser.get(httpx.URL(return_to).copy_merge_params(stale))
    assert query_of(landed)["auth_error"] == "sign_in_failed"
    assert query_of(landed)["reason"] == "expired"
    async with auth.browser() as browser:
        start = await browser.get("/api/v1/auth/telegram/login")
        return_to = httpx.URL(start.headers["location"]).params["return_to"]
        fresh = (
            await browser.get(
                f"{fresh_sandbox.base_url}/sandbox/telegram/login-data", params={"id": "700000001"}
            )
        ).json()
        fresh["id"] = "700000002"  # someone else's id under Alice's signature
        landed = await browser.get(httpx.URL(return_to).copy_merge_params(fresh))
    assert query_of(landed)["reason"] == "invalid_signature"


async def test_telegram_data_with_a_field_we_do_not_know_signs_in_and_a_tampered_one_does_not(
    auth, fresh_sandbox, query_of
):
    async def landing(change: dict[str, str]) -> httpx.Response:
        async with auth.browser() as browser:
            start = await browser.get("/api/v1/auth/telegram/login")
            return_to = httpx.URL(start.headers["location"]).params["return_to"]
            data = (
                await browser.get(
                    f"{fresh_sandbox.base_url}/sandbox/telegram/login-data",
                    params={"id": "700000001", "extra": ["allows_write_to_pm=true", "x_new=1"]},
                )
            ).json()
            assert data["allows_write_to_pm"] == "true"
            return await browser.get(httpx.URL(return_to).copy_merge_params({**data, **change}))

    signed_in = await landing({})
    assert signed_in.headers["location"] == "/?connected=telegram"
    tampered = await landing({"allows_write_to_pm": "false"})
    assert query_of(tampered)["reason"] == "invalid_signature"


async def test_telegram_data_that_repeats_a_field_is_refused_naming_it_whichever_copy_is_signed(
    auth, fresh_sandbox
):
    """Last value wins no more: ``id`` twice (Telegram's signed one and another) is a 400
    problem naming ``id``, in either order, and nobody is signed in."""
    for order in ("signed first", "signed last"):
        async with auth.browser() as browser:
            start = await browser.get("/api/v1/auth/telegram/login")
            return_to = httpx.URL(start.headers["location"])
            return_to = httpx.URL(return_to.params["return_to"])
            data = (
                await browser.get(
                    f"{fresh_sandbox.base_url}/sandbox/telegram/login-data",
                    params={"id": "700000001"},
                )
            ).json()
            items = [(k, str(v)) for k, v in data.items() if v is not None]
            other = ("id", "700000002")
            items = [*items, other] if order == "signed first" else [other, *items]
            landed = await browser.get(return_to.copy_merge_params(items))
            assert landed.status_code == 400, order
            assert landed.headers["content-type"].startswith("application/problem+json")
            problem = landed.json()
            assert problem["errors"] == [
                {"field": "id", "in": "query", "message": "sent more than once"}
            ]
            assert "cachalot_session" not in browser.cookies


async def test_linking_a_channel_requires_telegram_sign_in_first(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        refused = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": "-1001234567890"}
        )
        malformed = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": "not a channel"}
        )
    assert refused.status_code == 422
    assert "sign in with Telegram first" in refused.json()["detail"]
    assert malformed.status_code == 422
    assert malformed.json()["errors"][0]["field"] == "channel_id"
