"""Sign-in that goes wrong ends on the dashboard with a message, never a crash."""

from __future__ import annotations

import httpx
import pytest


async def test_access_denied_lands_on_the_dashboard_with_a_message(auth, sign_in, query_of):
    async with auth.browser() as browser:
        landed = await sign_in(browser, "tiktok", decision="deny")
        assert landed.status_code == 302
        query = query_of(landed)
        assert landed.headers["location"].startswith("/?")
        assert query["auth_error"] == "access_denied"
        assert query["platform"] == "tiktok"
        assert query["reason"] == "access_denied"
        assert "message" not in query
        assert (await browser.get("/api/v1/me")).status_code == 401


async def test_a_sign_in_with_fewer_scopes_says_which_are_missing(auth, sign_in, query_of):
    async with auth.browser() as browser:
        landed = await sign_in(browser, "tiktok", scopes="user.info.basic,video.upload")
        query = query_of(landed)
        accounts = (await browser.get("/api/v1/accounts")).json()
    assert query["auth_error"] == "missing_scopes"
    assert query["missing_scopes"] == "video.publish"
    assert "message" not in query
    assert accounts[0]["status"] == "reauth_required"
    assert auth.events.types() == []


async def test_a_callback_whose_state_differs_from_the_browsers_is_refused(auth, sign_in, query_of):
    async with auth.browser() as browser:
        back = await sign_in(browser, "tiktok", stop_at_callback=True)
        forged = httpx.URL(back.headers["location"]).copy_set_param("state", "forged-state")
        landed = await browser.get(forged)
    assert query_of(landed)["auth_error"] == "state_mismatch"


async def test_a_callback_from_another_browser_is_refused(auth, sign_in, query_of):
    async with auth.browser() as browser:
        back = await sign_in(browser, "tiktok", stop_at_callback=True)
    async with auth.browser() as attacker:
        landed = await attacker.get(back.headers["location"])
    assert query_of(landed)["auth_error"] == "state_missing"


async def test_a_replayed_callback_is_refused_and_creates_nothing(auth, sign_in, query_of):
    async with auth.browser() as browser:
        start = await browser.get("/api/v1/auth/tiktok/login")
        binding = {c.name: c.value for c in browser.cookies.jar}
        consent = await browser.get(
            httpx.URL(start.headers["location"]).copy_merge_params({"sandbox_auto": "allow"})
        )
        callback = consent.headers["location"]
        first = await browser.get(callback)
        assert first.headers["location"] == "/?connected=tiktok"
    async with auth.browser() as replayer:
        for name, value in binding.items():
            replayer.cookies.set(name, value)
        again = await replayer.get(callback)
    assert query_of(again)["auth_error"] == "state_replayed"


async def test_a_code_issued_for_another_redirect_uri_is_refused_cleanly(
    auth, fresh_sandbox, query_of
):
    """The platform refuses an exchange whose redirect_uri differs from the authorised one.

    Both URIs are registered (the consent page refuses any other), so the code is
    issued and it is the exchange that fails.
    """
    async with auth.browser() as browser:
        start = await browser.get("/api/v1/auth/tiktok/login")
        authorize = httpx.URL(start.headers["location"])
        altered = authorize.params["redirect_uri"] + "?via=elsewhere"
        async with httpx.AsyncClient() as console:
            registered = await console.post(
                fresh_sandbox.oauth("tiktok", "redirect-uris"), json=[altered]
            )
            registered.raise_for_status()
        consent = await browser.get(
            authorize.copy_set_param("redirect_uri", altered).copy_merge_params(
                {"sandbox_auto": "allow"}
            )
        )
        landed = await browser.get(consent.headers["location"])
        assert (await browser.get("/api/v1/me")).status_code == 401
    query = query_of(landed)
    assert query["auth_error"] == "sign_in_failed"
    assert query["reason"] == "invalid_grant"


@pytest.mark.parametrize("target", ["//evil.com", "https://evil.com", "/\\evil.com", "/%5Cevil"])
async def test_sign_in_never_redirects_off_our_origin(auth, sign_in, target):
    async with auth.browser() as browser:
        landed = await sign_in(browser, "tiktok", next_path=target)
    assert landed.headers["location"] in ("/?connected=tiktok", "/%5Cevil?connected=tiktok")
    assert "evil.com" not in landed.headers["location"]


async def test_an_unknown_platform_is_a_problem_naming_the_field(auth):
    async with auth.browser() as browser:
        answer = await browser.get("/api/v1/auth/myspace/login")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] == "platform"


async def test_the_binding_cookie_is_scoped_to_the_platform_callback(auth):
    async with auth.browser() as browser:
        start = await browser.get("/api/v1/auth/tiktok/login")
    cookie = start.headers["set-cookie"].lower()
    assert "path=/api/v1/auth/tiktok/callback" in cookie
    assert "httponly" in cookie
    assert "max-age=600" in cookie
    assert "samesite=lax" in cookie


async def test_a_platform_error_that_is_not_a_plain_code_never_reaches_the_dashboard_url(
    auth, sign_in, query_of
):
    """Only codes travel to the dashboard: a sentence in the callback's error is dropped."""
    async with auth.browser() as browser:
        back = await sign_in(browser, "tiktok", stop_at_callback=True)
        callback = httpx.URL(back.headers["location"]).copy_remove_param("code")
        landed = await browser.get(
            callback.copy_set_param("error", "Your account is locked, call +1 555 0100")
        )
    query = query_of(landed)
    assert query == {"auth_error": "sign_in_failed", "platform": "tiktok"}


async def test_an_oauth_platform_without_a_client_here_is_refused_not_sent_to_telegrams_widget(
    auth_without_oauth_clients,
) -> None:
    """newplat F5: a platform whose registry entry signs in by OAuth but has no OAuth client
    in this auth (a platform half added, or its client left out) went to Telegram's Login
    Widget, whose callback is Telegram's. It is a 503 naming the platform now; Telegram,
    whose registry entry is the widget, still goes there."""
    async with auth_without_oauth_clients.browser() as browser:
        refused = await browser.get("/api/v1/auth/vk/login")
        widget = await browser.get("/api/v1/auth/telegram/login")
    assert refused.status_code == 503
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "Sign-in with VK is not set up" in refused.json()["detail"]
    assert refused.json()["errors"][0]["field"] == "platform"
    assert widget.status_code == 302
    assert "telegram" in widget.headers["location"]
