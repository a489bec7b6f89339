"""Sign-in with the sandbox TikTok over real HTTP, and the ways it can go wrong."""

from __future__ import annotations

from cachalot_common.sessions import COOKIE_NAME


async def test_tiktok_sign_in_creates_a_client_session_and_a_connected_account(
    auth, sign_in
) -> None:
    async with auth.browser() as browser:
        landed = await sign_in(browser, "tiktok", next_path="/posts")
        assert landed.status_code == 302
        assert landed.headers["location"] == "/posts?connected=tiktok"
        cookie = next(c for c in browser.cookies.jar if c.name == COOKIE_NAME)
        assert not cookie.secure
        set_cookie = landed.headers["set-cookie"].lower()
        assert "httponly" in set_cookie
        assert "samesite=lax" in set_cookie
        me = (await browser.get("/api/v1/me")).json()
        accounts = (await browser.get("/api/v1/accounts")).json()
    assert me["client_id"]
    assert me["consent_given"] is False
    assert [(a["platform"], a["status"], a["display_name"]) for a in accounts] == [
        ("tiktok", "ok", "Alice Sandbox")
    ]
    assert set(accounts[0]["scopes"]) == {"user.info.basic", "video.upload", "video.publish"}
    assert "access_token" not in str(accounts)
    assert auth.events.types(accounts[0]["id"]) == ["connected"]
