"""Which client a sign-in lands in: an account is a credential only while its client holds it.

Issue 8 item 2 ("a re-assigned account never inherits another client's
work"); the red team's report: a client disconnects an account, a stranger
who controls that platform account signs in with it without a session and
landed in the old client (its email, posts, other accounts).
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from cachalot_auth.models import Token
from cachalot_common.leases import LeaseReauthRequired, LeaseRefused

CHANNEL_ID = -1001234567890
TELEGRAM_USER = 700000001  # the Login Widget person browser_sign_in signs in as


async def _account(browser: httpx.AsyncClient, platform: str) -> dict[str, Any]:
    accounts = (await browser.get("/api/v1/accounts")).json()
    return dict(next(a for a in accounts if a["platform"] == platform))


def _events(auth: Any, account_id: str) -> list[tuple[str, str]]:
    return [(p["type"], p["client_id"]) for _, k, p in auth.events.published if k == account_id]


async def test_a_sign_in_without_a_session_through_a_disconnected_account_starts_a_new_client(
    auth, sign_in, consent, query_of
):
    async with auth.browser() as victim:
        await sign_in(victim, "tiktok")
        await consent(victim, "victim@example.com")
        await sign_in(victim, "youtube")
        victims = (await victim.get("/api/v1/me")).json()["client_id"]
        youtube = await _account(victim, "youtube")
        tiktok = await _account(victim, "tiktok")
        assert (await victim.delete(f"/api/v1/accounts/{youtube['id']}")).status_code == 204
    async with auth.browser() as stranger:
        landed = await sign_in(stranger, "youtube")  # the same Google user, no session
        me = (await stranger.get("/api/v1/me")).json()
        accounts = (await stranger.get("/api/v1/accounts")).json()
        export = await stranger.get("/api/v1/me/export")
        taken = await stranger.delete(f"/api/v1/accounts/{tiktok['id']}")
    assert "auth_error" not in query_of(landed)
    assert me["client_id"] != victims
    assert me["email"] is None
    assert me["consent_given"] is False  # the new client gives its own 18+ consent
    assert [(a["id"], a["platform"], a["status"]) for a in accounts] == [
        (youtube["id"], "youtube", "ok")
    ]
    assert "victim@example.com" not in export.text
    assert taken.status_code == 404
    await auth.app.state.relay.drain()
    assert _events(auth, youtube["id"]) == [
        ("connected", victims),
        ("revoked", victims),
        ("connected", me["client_id"]),  # the queue cancels the victim's targets on it
    ]


async def test_the_new_client_cannot_lease_the_account_for_the_old_clients_posts(
    auth, sign_in, consent, lease_client, account_row, grant
):
    async with auth.browser() as victim:
        await sign_in(victim, "tiktok")
        await consent(victim)
        account = await _account(victim, "tiktok")
        old = await account_row(auth, account["id"])
        assert (await victim.delete(f"/api/v1/accounts/{account['id']}")).status_code == 204
    async with auth.browser() as stranger:
        await sign_in(stranger, "tiktok")
        await consent(stranger)
    post_id, target_id = uuid.uuid4(), uuid.uuid4()
    async with httpx.AsyncClient() as http:
        with pytest.raises(LeaseRefused) as refused:
            await lease_client(auth, http).lease(
                uuid.UUID(account["id"]),
                post_id=post_id,
                target_id=target_id,
                grant=grant(old, post_id=post_id, target_id=target_id),
            )
    assert refused.value.code == "not_owner"


async def test_an_owner_signing_in_again_with_a_reauth_required_account_lands_in_their_own_client(
    auth, sign_in, consent, lease_client, expire, fresh_sandbox, faults
):
    async with auth.browser() as owner:
        await sign_in(owner, "tiktok")
        await consent(owner)
        owners = (await owner.get("/api/v1/me")).json()["client_id"]
        account_id = (await _account(owner, "tiktok"))["id"]
    await expire(auth, account_id)
    await faults(
        fresh_sandbox, "tiktok", [{"error": "invalid_grant", "grant_type": "refresh_token"}]
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(LeaseReauthRequired):
            await lease_client(auth, http).lease(uuid.UUID(account_id), post_id=uuid.uuid4())
    async with auth.browser() as again:  # a new browser: no session
        await sign_in(again, "tiktok")
        me = (await again.get("/api/v1/me")).json()
        account = await _account(again, "tiktok")
    assert me["client_id"] == owners
    assert me["consent_given"] is True
    assert (account["id"], account["status"]) == (account_id, "ok")


async def test_a_disconnected_account_signed_into_with_missing_permissions_still_changes_hands(
    auth, sign_in, query_of
):
    async with auth.browser() as victim:
        await sign_in(victim, "tiktok")
        victims = (await victim.get("/api/v1/me")).json()["client_id"]
        account = await _account(victim, "tiktok")
        assert (await victim.delete(f"/api/v1/accounts/{account['id']}")).status_code == 204
    async with auth.browser() as stranger:
        landed = await sign_in(stranger, "tiktok", scopes="user.info.basic,video.upload")
        strangers = (await stranger.get("/api/v1/me")).json()["client_id"]
    assert query_of(landed)["auth_error"] == "missing_scopes"
    assert strangers != victims
    await auth.app.state.relay.drain()
    assert _events(auth, account["id"])[-1] == ("reauth_required", strangers)


async def test_a_telegram_login_through_a_disconnected_account_starts_a_new_client_without_channel(
    auth, sign_in, fresh_sandbox
):
    channel = {
        "id": CHANNEL_ID,
        "username": "mychannel",
        "title": "My Channel",
        "admins": [{"user_id": TELEGRAM_USER, "status": "creator"}],
        "bot_status": "administrator",
        "bot_can_post_messages": True,
    }
    async with httpx.AsyncClient() as http:
        made = await http.post(f"{fresh_sandbox.base_url}/sandbox/telegram/channels", json=channel)
        made.raise_for_status()
    async with auth.browser() as owner:
        await sign_in(owner, "telegram")
        owners = (await owner.get("/api/v1/me")).json()["client_id"]
        linked = await owner.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": str(CHANNEL_ID)}
        )
        assert linked.status_code == 200, linked.text
        account = await _account(owner, "telegram")
        assert (await owner.delete(f"/api/v1/accounts/{account['id']}")).status_code == 204
    async with auth.browser() as stranger:
        await sign_in(stranger, "telegram")
        me = (await stranger.get("/api/v1/me")).json()
        [again] = (await stranger.get("/api/v1/accounts")).json()
    assert me["client_id"] != owners
    assert again["id"] == account["id"]
    assert again.get("channel_id") is None
    async with auth.app.state.factory() as db:
        assert (await db.scalars(select(Token))).all() == []
