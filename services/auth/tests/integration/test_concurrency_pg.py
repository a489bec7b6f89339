"""On PostgreSQL: many publishers and several replicas, one refresh per account."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from cachalot_common.crypto import generate_key
from cachalot_common.leases import Lease, LeaseAsk


async def test_50_concurrent_leases_on_an_expired_token_refresh_once_across_two_replicas(
    start_auth,
    postgres_database,
    sign_in,
    consent,
    lease_client,
    expire,
    fresh_sandbox,
    platform_stats,
):
    keys = f"v1:{generate_key()}"
    async with (
        start_auth(postgres_database, token_keys=keys) as one,
        start_auth(postgres_database, token_keys=keys, auto_migrate=False) as two,
    ):
        async with one.browser() as browser:
            await sign_in(browser, "tiktok")
            await consent(browser)
            account_id = uuid.UUID((await browser.get("/api/v1/accounts")).json()[0]["id"])
        await expire(one, str(account_id))
        before = (await platform_stats(fresh_sandbox, "tiktok"))["token"].get("refresh_token", 0)
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as http:
            replicas = [lease_client(one, http), lease_client(two, http)]
            leases = await asyncio.gather(
                *(replicas[i % 2].lease(account_id, post_id=uuid.uuid4()) for i in range(50))
            )
            tokens = {lease.access_token for lease in leases}
            assert len(leases) == 50
            assert len(tokens) == 1
            check = await http.get(
                f"{fresh_sandbox.base_url}/tiktok/v2/user/info/",
                params={"fields": "open_id"},
                headers={"Authorization": f"Bearer {tokens.pop()}"},
            )
        stats = await platform_stats(fresh_sandbox, "tiktok")
    assert check.status_code == 200
    assert stats["token"]["refresh_token"] - before == 1
    assert stats["live_grants"] == 1


async def test_sign_in_and_leases_work_on_postgresql(
    auth_pg, sign_in, consent, lease_client, expire
):
    async with auth_pg.browser() as browser:
        await sign_in(browser, "youtube")
        await consent(browser)
        account_id = uuid.UUID((await browser.get("/api/v1/accounts")).json()[0]["id"])
    async with httpx.AsyncClient() as http:
        first = await lease_client(auth_pg, http).lease(account_id, post_id=uuid.uuid4())
        await expire(auth_pg, str(account_id))
        second = await lease_client(auth_pg, http).lease(account_id, post_id=uuid.uuid4())
    assert first.access_token != second.access_token


async def test_a_confirmation_batch_on_postgresql_answers_each_account_and_refreshes_an_expired_one(
    auth_pg, sign_in, consent, lease_client, expire, grant, account_row
):
    ids = []
    for user in ("sandbox-extra-pg-one", "sandbox-extra-pg-two"):
        async with auth_pg.browser() as browser:
            await sign_in(browser, "tiktok", user=user)
            await consent(browser)
            ids.append(uuid.UUID((await browser.get("/api/v1/accounts")).json()[0]["id"]))
    asks = []
    for account_id in ids:
        post_id, target_id = uuid.uuid4(), uuid.uuid4()
        row = await account_row(auth_pg, account_id)
        asks.append(
            LeaseAsk(
                account_id, post_id, target_id, grant(row, post_id=post_id, target_id=target_id)
            )
        )
    async with httpx.AsyncClient() as http:
        publisher = lease_client(auth_pg, http).client("publisher-tiktok")
        first = await publisher.confirm(asks)
        await expire(auth_pg, str(ids[1]))
        second = await publisher.confirm(asks)
    assert all(isinstance(answer, Lease) for answer in first + second)
    assert [a.account_id for a in second] == ids  # type: ignore[union-attr]
    assert first[0].access_token == second[0].access_token  # type: ignore[union-attr]
    assert first[1].access_token != second[1].access_token  # type: ignore[union-attr]
