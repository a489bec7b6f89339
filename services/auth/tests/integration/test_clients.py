"""Clients, sessions and accounts: each client sees only their own."""

from __future__ import annotations

import hashlib

from cachalot_testing.media import video_bytes


async def test_signing_in_with_another_platform_connects_it_to_the_same_client(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        first = (await browser.get("/api/v1/me")).json()["client_id"]
        await sign_in(browser, "youtube")
        me = (await browser.get("/api/v1/me")).json()
        accounts = (await browser.get("/api/v1/accounts")).json()
    assert me["client_id"] == first
    assert sorted(a["platform"] for a in accounts) == ["tiktok", "youtube"]


async def test_client_a_cannot_see_or_delete_client_bs_accounts(auth, sign_in):
    async with auth.browser() as alice, auth.browser() as bob:
        await sign_in(alice, "tiktok", user="-000sandboxAliceOpenId")
        await sign_in(bob, "tiktok", user="-000sandboxBobOpenId")
        bobs = (await bob.get("/api/v1/accounts")).json()
        alices = (await alice.get("/api/v1/accounts")).json()
        assert [a["display_name"] for a in alices] == ["Alice Sandbox"]
        deleted = await alice.delete(f"/api/v1/accounts/{bobs[0]['id']}")
        assert deleted.status_code == 404
        assert (await bob.get("/api/v1/accounts")).json()[0]["status"] == "ok"


async def test_consent_is_stored_with_its_time_and_adult_false_is_refused(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        refused = await browser.post(
            "/api/v1/me/consent", json={"adult": False, "email": "a@example.com"}
        )
        bad_email = await browser.post(
            "/api/v1/me/consent", json={"adult": True, "email": "not-an-email"}
        )
        given = await browser.post(
            "/api/v1/me/consent", json={"adult": True, "email": "a@example.com"}
        )
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "adult"
    assert bad_email.status_code == 422
    assert bad_email.json()["errors"][0]["field"] == "email"
    body = given.json()
    assert body["consent_given"] is True
    assert body["adult_confirmed_at"]
    assert body["email_at"]


async def test_giving_consent_emits_connected_for_each_usable_account_once(auth, sign_in):
    from sqlalchemy import update

    from cachalot_auth.models import Account

    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await sign_in(browser, "youtube")
        accounts = {a["platform"]: a["id"] for a in (await browser.get("/api/v1/accounts")).json()}
        async with auth.app.state.factory() as db, db.begin():
            await db.execute(
                update(Account)
                .where(Account.platform == "youtube")
                .values(status="reauth_required")
            )
        first = await browser.post(
            "/api/v1/me/consent", json={"adult": True, "email": "a@example.com"}
        )
        again = await browser.post(
            "/api/v1/me/consent", json={"adult": True, "email": "b@example.com"}
        )
    assert (first.status_code, again.status_code) == (200, 200)
    await auth.app.state.relay.drain()
    assert auth.events.types(accounts["tiktok"]) == ["connected", "connected"]
    assert auth.events.types(accounts["youtube"]) == ["connected"], "a reconnect resumes it"
    consented = [p for _, k, p in auth.events.published if k == accounts["tiktok"]][-1]
    assert "18 or over" in consented["reason"]


async def test_logout_ends_the_session_even_for_a_kept_cookie(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        kept = dict(browser.cookies)
        assert (await browser.post("/api/v1/auth/logout")).status_code == 204
    async with auth.browser() as thief:
        for name, value in kept.items():
            thief.cookies.set(name, value)
        assert (await thief.get("/api/v1/me")).status_code == 401


async def test_disconnecting_revokes_at_the_platform_deletes_tokens_and_emits_revoked(
    auth, sign_in, fresh_sandbox, platform_stats
):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        account = (await browser.get("/api/v1/accounts")).json()[0]
        assert (await browser.delete(f"/api/v1/accounts/{account['id']}")).status_code == 204
        after = (await browser.get("/api/v1/accounts")).json()[0]
    assert after["status"] == "revoked"
    assert (await platform_stats(fresh_sandbox, "tiktok")).get("revoke") == 1
    from sqlalchemy import select

    from cachalot_auth.models import Token

    async with auth.app.state.factory() as db:
        assert (await db.scalars(select(Token))).all() == []
    await auth.app.state.relay.drain()
    assert auth.events.types(account["id"]) == ["connected", "revoked"]


async def test_export_and_erase_remove_everything_of_the_client(
    auth_with_queue, queue_service, sign_in, consent
):
    auth = auth_with_queue
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        video = video_bytes()
        uploaded = await browser.post(  # the same session, straight to the queue
            f"{queue_service}/api/v1/media", content=video, headers={"Content-Type": "video/mp4"}
        )
        assert uploaded.status_code == 201, uploaded.text
        export = (await browser.get("/api/v1/me/export")).json()
        assert export["client"]["email"] == "client@example.com"
        assert len(export["accounts"]) == 1
        assert export["posts"] == []
        assert (export["deliveries"], export["audit"]) == ([], [])  # the queue's, passed on
        assert [m["id"] for m in export["media"]] == [uploaded.json()["id"]]
        assert export["media"][0]["sha256"] == hashlib.sha256(video).hexdigest()
        assert (await browser.delete("/api/v1/me")).status_code == 204
        assert (await browser.get("/api/v1/me")).status_code == 401
    await auth.app.state.relay.drain()
    assert auth.events.types()[-3:] == ["revoked", "deleted", "client_erased"]


async def test_an_account_connected_to_one_client_cannot_be_taken_by_another(
    auth, sign_in, query_of
):
    async with auth.browser() as alice:
        await sign_in(alice, "tiktok", user="-000sandboxAliceOpenId")
    async with auth.browser() as other:
        await sign_in(other, "youtube")
        landed = await sign_in(other, "tiktok", user="-000sandboxAliceOpenId")
        platforms = [a["platform"] for a in (await other.get("/api/v1/accounts")).json()]
    assert query_of(landed)["auth_error"] == "account_in_use"
    assert platforms == ["youtube"]


async def test_an_account_its_owner_disconnected_can_be_connected_by_another_client(
    auth, sign_in, query_of
):
    async with auth.browser() as alice:
        await sign_in(alice, "tiktok", user="-000sandboxAliceOpenId")
        await sign_in(alice, "youtube")
        tiktok = next(
            a for a in (await alice.get("/api/v1/accounts")).json() if a["platform"] == "tiktok"
        )
        assert (await alice.delete(f"/api/v1/accounts/{tiktok['id']}")).status_code == 204
    async with auth.browser() as other:
        await sign_in(other, "vk")
        landed = await sign_in(other, "tiktok", user="-000sandboxAliceOpenId")
        accounts = {
            a["platform"]: a["status"] for a in (await other.get("/api/v1/accounts")).json()
        }
    assert "auth_error" not in query_of(landed)
    assert accounts == {"vk": "ok", "tiktok": "ok"}


async def test_an_export_without_the_queues_part_is_refused_not_half_given(auth, sign_in, consent):
    """The queue is unreachable: 503 with a problem, never an archive missing the posts."""
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        response = await browser.get("/api/v1/me/export")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "30"
    assert "posts could not be gathered" in response.json()["detail"]
