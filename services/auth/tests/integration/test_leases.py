"""Token leases for publishers: credentials, consent, refresh, audit."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from cachalot_common.leases import LeaseError, LeaseReauthRequired, LeaseUnavailable


async def connected_tiktok(auth, sign_in, consent) -> str:
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        return str((await browser.get("/api/v1/accounts")).json()[0]["id"])


async def test_a_lease_without_service_credentials_is_401(auth, sign_in, consent):
    account_id = await connected_tiktok(auth, sign_in, consent)
    async with httpx.AsyncClient(base_url=auth.base_url) as http:
        bare = await http.post(
            f"/internal/v1/accounts/{account_id}/lease", json={"post_id": str(uuid.uuid4())}
        )
        forged = await http.post(
            f"/internal/v1/accounts/{account_id}/lease",
            json={"post_id": str(uuid.uuid4())},
            headers={"Authorization": "Bearer not.a.jwt"},
        )
    assert bare.status_code == 401
    assert forged.status_code == 401
    assert bare.headers["content-type"].startswith("application/problem+json")


async def test_a_lease_returns_a_token_the_platform_accepts_and_is_audited(
    auth_with_queue, sign_in, consent, lease_client, fresh_sandbox
):
    auth = auth_with_queue  # the audit is read back through the data export
    account_id = await connected_tiktok(auth, sign_in, consent)
    post_id = uuid.uuid4()
    async with httpx.AsyncClient() as http:
        lease = await lease_client(auth, http).lease(uuid.UUID(account_id), post_id=post_id)
        info = await http.get(
            f"{fresh_sandbox.base_url}/tiktok/v2/user/info/",
            params={"fields": "open_id"},
            headers={"Authorization": f"Bearer {lease.access_token}"},
        )
    assert info.status_code == 200
    assert lease.platform == "tiktok"
    assert "token=***" in repr(lease)
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        export = (await browser.get("/api/v1/me/export")).json()
    assert [(x["service"], x["post_id"]) for x in export["token_leases"]] == [
        ("publisher-tiktok", str(post_id))
    ]


async def test_accounts_cannot_be_leased_before_the_client_consents(auth, sign_in, lease_client):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        account_id = (await browser.get("/api/v1/accounts")).json()[0]["id"]
    async with httpx.AsyncClient() as http:
        with pytest.raises(LeaseReauthRequired) as refused:
            await lease_client(auth, http).lease(uuid.UUID(account_id), post_id=uuid.uuid4())
    assert refused.value.code == "consent_required"


async def test_an_unknown_account_is_404(auth, lease_client):
    async with httpx.AsyncClient() as http:
        with pytest.raises(LeaseError, match="404"):
            await lease_client(auth, http).lease(uuid.uuid4(), post_id=uuid.uuid4())


async def test_an_expired_token_is_refreshed_first_and_the_rotated_refresh_token_kept(
    auth, sign_in, consent, lease_client, expire, fresh_sandbox, platform_stats
):
    account_id = await connected_tiktok(auth, sign_in, consent)
    async with httpx.AsyncClient() as http:
        client = lease_client(auth, http)
        first = await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4())
        await expire(auth, account_id)
        second = await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4())
        await expire(auth, account_id)
        third = await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4())
    assert len({first.access_token, second.access_token, third.access_token}) == 3
    stats = await platform_stats(fresh_sandbox, "tiktok")
    assert stats["token"]["refresh_token"] == 2
    assert stats["live_grants"] == 1  # a stale refresh token re-used would have revoked it


async def test_force_refresh_after_a_platform_401_gets_a_new_token(
    auth, sign_in, consent, lease_client
):
    account_id = uuid.UUID(await connected_tiktok(auth, sign_in, consent))
    async with httpx.AsyncClient() as http:
        client = lease_client(auth, http)
        first = await client.lease(account_id, post_id=uuid.uuid4())
        forced = await client.lease(account_id, post_id=uuid.uuid4(), force_refresh=True)
    assert forced.access_token != first.access_token


async def test_5xx_at_refresh_is_retried_and_the_account_stays_ok(
    auth, sign_in, consent, lease_client, expire, fresh_sandbox, faults, platform_stats
):
    account_id = await connected_tiktok(auth, sign_in, consent)
    await expire(auth, account_id)
    await faults(
        fresh_sandbox,
        "tiktok",
        [
            {"status": 503, "grant_type": "refresh_token"},
            {"status": 500, "grant_type": "refresh_token"},
        ],
    )
    async with httpx.AsyncClient() as http:
        lease = await lease_client(auth, http).lease(uuid.UUID(account_id), post_id=uuid.uuid4())
    assert lease.access_token
    assert (await platform_stats(fresh_sandbox, "tiktok"))["token"]["refresh_token"] == 3


async def test_a_platform_down_for_good_is_503_and_does_not_disconnect(
    auth, sign_in, consent, lease_client, expire, fresh_sandbox, faults
):
    account_id = await connected_tiktok(auth, sign_in, consent)
    await expire(auth, account_id)
    await faults(fresh_sandbox, "tiktok", [{"status": 502, "grant_type": "refresh_token"}] * 4)
    async with httpx.AsyncClient() as http:
        client = lease_client(auth, http)
        with pytest.raises(LeaseUnavailable):
            await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4())
        later = await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4())
    assert later.access_token
    assert auth.events.types(account_id) == ["connected"]


async def test_invalid_grant_marks_reauth_required_and_emits_the_event(
    auth, sign_in, consent, lease_client, expire, fresh_sandbox, faults
):
    account_id = await connected_tiktok(auth, sign_in, consent)
    await expire(auth, account_id)
    await faults(
        fresh_sandbox, "tiktok", [{"error": "invalid_grant", "grant_type": "refresh_token"}]
    )
    async with httpx.AsyncClient() as http:
        client = lease_client(auth, http)
        with pytest.raises(LeaseReauthRequired) as first:
            await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4())
        with pytest.raises(LeaseReauthRequired):
            await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4())
    assert first.value.code == "reauth_required"
    await auth.app.state.relay.drain()
    assert auth.events.types(account_id) == ["connected", "reauth_required"]
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        account = (await browser.get("/api/v1/accounts")).json()[0]
    assert account["status"] == "ok"  # signing in again reconnects it


async def test_concurrent_leases_on_sqlite_refresh_once(
    auth, sign_in, consent, lease_client, expire, fresh_sandbox, platform_stats
):
    account_id = uuid.UUID(await connected_tiktok(auth, sign_in, consent))
    await expire(auth, str(account_id))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as http:
        client = lease_client(auth, http)
        leases = await asyncio.gather(
            *(client.lease(account_id, post_id=uuid.uuid4()) for _ in range(20))
        )
    assert len({lease.access_token for lease in leases}) == 1
    assert (await platform_stats(fresh_sandbox, "tiktok"))["token"]["refresh_token"] == 1
