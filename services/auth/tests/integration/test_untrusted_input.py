"""Whatever anyone types into a callback or a body, auth answers it without a 5xx (issue 8.7)."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize("state", ["é", "état-🚀", "\u0000", "%ff"])
async def test_a_non_ascii_state_in_the_oauth_callback_is_a_state_mismatch_not_a_crash(
    auth, sign_in, query_of, state: str
):
    async with auth.browser() as browser:
        back = await sign_in(browser, "tiktok", stop_at_callback=True)
        forged = httpx.URL(back.headers["location"]).copy_set_param("state", state)
        landed = await browser.get(forged)
    assert landed.status_code == 302, landed.text
    assert query_of(landed)["auth_error"] == "state_mismatch"


async def test_a_non_ascii_state_without_a_browser_binding_is_refused_too(auth, query_of):
    async with auth.browser() as stranger:
        landed = await stranger.get(
            "/api/v1/auth/tiktok/callback", params={"state": "é", "code": "x"}
        )
    assert landed.status_code == 302
    assert query_of(landed)["auth_error"] == "state_missing"


@pytest.mark.parametrize("forged_hash", ["é" * 64, "ÿ", "\u00e9abc"])
async def test_a_non_ascii_hash_in_the_telegram_callback_is_an_invalid_signature_not_a_crash(
    auth, fresh_sandbox, query_of, forged_hash: str
):
    async with auth.browser() as browser:
        start = await browser.get("/api/v1/auth/telegram/login")
        return_to = httpx.URL(start.headers["location"]).params["return_to"]
        data = (
            await browser.get(
                f"{fresh_sandbox.base_url}/sandbox/telegram/login-data", params={"id": "700000001"}
            )
        ).json()
        data["hash"] = forged_hash
        landed = await browser.get(httpx.URL(return_to).copy_merge_params(data))
    assert landed.status_code == 302, landed.text
    assert query_of(landed)["reason"] == "invalid_signature"


async def test_a_lone_surrogate_in_a_json_body_is_a_422_naming_the_field(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        for path, raw, field in [
            ("/api/v1/me/consent", b'{"adult": true, "email": "a\\udfff@example.com"}', "email"),
            ("/api/v1/accounts/telegram/channel", b'{"channel_id": "@\\ud800abcde"}', "channel_id"),
        ]:
            response = await browser.post(
                path, content=raw, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 422, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in response.json()["errors"]] == [field]
