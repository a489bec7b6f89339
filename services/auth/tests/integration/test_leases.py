"""Token leases for publishers: credentials, consent, refresh, audit."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from cachalot_auth.service_tokens import SpentTokens, TokenReplayed
from cachalot_common.leases import (
    MAX_CONFIRM_BATCH,
    Lease,
    LeaseAsk,
    LeaseError,
    LeaseReauthRequired,
    LeaseRefused,
    LeaseUnavailable,
)
from cachalot_common.service_auth import ServiceIdentity, mint_service_token


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
    post_id, target_id = uuid.uuid4(), uuid.uuid4()
    async with httpx.AsyncClient() as http:
        lease = await lease_client(auth, http).lease(
            uuid.UUID(account_id), post_id=post_id, target_id=target_id
        )
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
    assert [(x["service"], x["post_id"], x["target_id"]) for x in export["token_leases"]] == [
        ("publisher-tiktok", str(post_id), str(target_id))
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
    auth, sign_in, consent, lease_client, fresh_sandbox
):
    """The platform stops taking the leased token (401) while auth still thinks it valid;
    a forced refresh gets one the platform takes again."""
    account_id = uuid.UUID(await connected_tiktok(auth, sign_in, consent))
    creator_info = f"{fresh_sandbox.base_url}/tiktok/v2/post/publish/creator_info/query/"
    async with httpx.AsyncClient() as http:
        client = lease_client(auth, http)
        first = await client.lease(account_id, post_id=uuid.uuid4())

        async def platform_answer(token: str) -> int:
            headers = {"Authorization": f"Bearer {token}"}
            return (await http.post(creator_info, headers=headers, json={})).status_code

        assert await platform_answer(first.access_token) == 200
        expired = await http.post(
            f"{fresh_sandbox.base_url}/sandbox/tokens/expire",
            json={"platform": "tiktok", "subject": first.platform_user_id},
        )
        assert expired.json()["expired"] >= 1
        assert await platform_answer(first.access_token) == 401
        cached = await client.lease(account_id, post_id=uuid.uuid4())
        assert cached.access_token == first.access_token  # auth cannot know without being told
        forced = await client.lease(account_id, post_id=uuid.uuid4(), force_refresh=True)
        assert forced.access_token != first.access_token
        assert await platform_answer(forced.access_token) == 200


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
    assert auth.events.types(account_id) == ["connected", "connected"]  # sign-in, consent


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
    assert auth.events.types(account_id) == ["connected", "connected", "reauth_required"]
    # the platform's refusal goes with it, for the notifier to word (issue 12 item 5)
    assert auth.events.published[-1][2]["code"] == "invalid_grant"
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


# --- a lease is bound to the caller, the platform and a real queued post (issue 8 item 3) ---


async def connected(auth, sign_in, consent, platform: str, user: str | None = None) -> str:
    async with auth.browser() as browser:
        await sign_in(browser, platform, user=user)
        await consent(browser)
        accounts = (await browser.get("/api/v1/accounts")).json()
    return str(next(a["id"] for a in accounts if a["platform"] == platform))


async def test_a_publisher_cannot_lease_an_account_of_another_platform(
    auth, sign_in, consent, lease_client, grant, account_row, caplog
):
    youtube = await connected(auth, sign_in, consent, "youtube")
    post_id = uuid.uuid4()
    valid_grant = grant(await account_row(auth, youtube), post_id=post_id)
    async with httpx.AsyncClient() as http:
        tiktok_publisher = lease_client(auth, http).client("publisher-tiktok")
        with caplog.at_level(logging.WARNING), pytest.raises(LeaseRefused) as refused:
            await tiktok_publisher.lease(uuid.UUID(youtube), post_id=post_id, grant=valid_grant)
        raw = await http.post(
            f"{auth.base_url}/internal/v1/accounts/{youtube}/lease",
            json={"post_id": str(post_id), "grant": valid_grant},
            headers={"Authorization": "Bearer " + tiktok_token()},
        )
        youtube_publisher = lease_client(auth, http).client("publisher-youtube")
        allowed = await youtube_publisher.lease(
            uuid.UUID(youtube), post_id=post_id, grant=valid_grant
        )
    assert (refused.value.status, refused.value.code) == (403, "wrong_platform")
    assert refused.value.retryable is False
    assert raw.status_code == 403
    assert raw.headers["content-type"].startswith("application/problem+json")
    assert raw.json()["code"] == "wrong_platform"
    assert "access_token" not in raw.text
    assert allowed.platform == "youtube"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"service=publisher-tiktok account={youtube} refusal=wrong_platform" in logged
    assert valid_grant not in logged


def tiktok_token() -> str:
    return mint_service_token(
        service="publisher-tiktok", secret="publisher-tiktok-test-secret-0123456789"
    )


async def test_a_lease_for_a_post_the_queue_did_not_grant_for_this_account_is_refused(
    auth, sign_in, consent, lease_client, grant, account_row
):
    mine = await connected(auth, sign_in, consent, "tiktok", user="-000sandboxAliceOpenId")
    other = await connected(auth, sign_in, consent, "tiktok", user="-000sandboxBobOpenId")
    account = await account_row(auth, mine)
    bobs = await account_row(auth, other)
    post_id = uuid.uuid4()
    forged_by_publisher = grant(account, post_id=post_id).rsplit(".", 1)[0] + ".forged"
    cases = {
        "no grant": (None, "grant_missing"),
        "not signed by the queue": (forged_by_publisher, "grant_invalid"),
        "another account": (grant(bobs, post_id=post_id), "grant_invalid"),
        "another platform": (grant(account, post_id=post_id, platform="youtube"), "grant_invalid"),
        "another post": (grant(account, post_id=uuid.uuid4()), "grant_invalid"),
        "another client": (grant(account, post_id=post_id, client_id=uuid.uuid4()), "not_owner"),
    }
    refusals = {}
    async with httpx.AsyncClient() as http:
        publisher = lease_client(auth, http).client("publisher-tiktok")
        for name, (given, _) in cases.items():
            with pytest.raises(LeaseRefused) as refused:
                await publisher.lease(uuid.UUID(mine), post_id=post_id, grant=given)
            refusals[name] = (refused.value.status, refused.value.code, refused.value.retryable)
        granted = await publisher.lease(
            uuid.UUID(mine), post_id=post_id, grant=grant(account, post_id=post_id)
        )
    assert refusals == {
        name: (403, code, code == "grant_missing") for name, (_, code) in cases.items()
    }
    assert granted.access_token


async def test_a_service_token_is_used_once_even_across_replicas(
    auth, sign_in, consent, grant, account_row, start_auth
):
    account_id = await connected(auth, sign_in, consent, "tiktok")
    post_id = uuid.uuid4()
    signed = grant(await account_row(auth, account_id), post_id=post_id)
    body = {"post_id": str(post_id), "grant": signed}
    token = tiktok_token()
    url = f"/internal/v1/accounts/{account_id}/lease"
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        start_auth(auth.settings.database_url, auto_migrate=False) as replica,
        httpx.AsyncClient() as http,
    ):
        first = await http.post(auth.base_url + url, json=body, headers=headers)
        again = await http.post(auth.base_url + url, json=body, headers=headers)
        elsewhere = await http.post(replica.base_url + url, json=body, headers=headers)
    assert first.status_code == 200
    for replayed in (again, elsewhere):
        assert replayed.status_code == 401
        assert replayed.json()["code"] == "token_replayed"
        assert "access_token" not in replayed.text


async def test_an_expired_grant_is_refused_as_grant_expired_which_the_publisher_may_retry(
    auth, sign_in, consent, lease_client, grant, account_row
):
    account_id = await connected(auth, sign_in, consent, "tiktok")
    post_id = uuid.uuid4()
    stale = grant(
        await account_row(auth, account_id),
        post_id=post_id,
        lifetime_s=3600,
        now_s=time.time() - 3700,
    )
    async with httpx.AsyncClient() as http:
        with pytest.raises(LeaseRefused) as refused:
            await lease_client(auth, http).lease(
                uuid.UUID(account_id), post_id=post_id, grant=stale
            )
    assert (refused.value.status, refused.value.code) == (403, "grant_expired")
    assert refused.value.retryable is True


async def test_a_grant_of_the_previous_owner_does_not_lease_the_account_once_it_changed_hands(
    auth, sign_in, consent, lease_client, grant, account_row
):
    account_id = await connected(auth, sign_in, consent, "tiktok", user="-000sandboxAliceOpenId")
    alices = await account_row(auth, account_id)
    post_id = uuid.uuid4()
    alices_grant = grant(alices, post_id=post_id)
    async with auth.browser() as alice:
        await sign_in(alice, "tiktok", user="-000sandboxAliceOpenId")
        assert (await alice.delete(f"/api/v1/accounts/{account_id}")).status_code == 204
    async with auth.browser() as bob:
        await sign_in(bob, "youtube")
        await consent(bob)
        await sign_in(bob, "tiktok", user="-000sandboxAliceOpenId")
    bobs = await account_row(auth, account_id)
    assert bobs.client_id != alices.client_id
    assert bobs.status == "ok"
    async with httpx.AsyncClient() as http:
        with pytest.raises(LeaseRefused) as refused:
            await lease_client(auth, http).lease(
                uuid.UUID(account_id), post_id=post_id, grant=alices_grant
            )
    assert (refused.value.status, refused.value.code) == (403, "not_owner")


async def test_spent_service_tokens_are_forgotten_once_they_expire(
    auth, sign_in, consent, lease_client
):
    from sqlalchemy import func, select, update

    from cachalot_auth.models import SpentServiceToken

    account_id = uuid.UUID(await connected(auth, sign_in, consent, "tiktok"))
    async with httpx.AsyncClient() as http:
        await lease_client(auth, http).lease(account_id, post_id=uuid.uuid4())
        async with auth.app.state.factory() as db, db.begin():
            await db.execute(update(SpentServiceToken).values(expires_at=datetime.now(UTC)))
        await lease_client(auth, http).lease(account_id, post_id=uuid.uuid4())
    async with auth.app.state.factory() as db:
        kept = await db.scalar(select(func.count()).select_from(SpentServiceToken))
    assert kept == 2, "a prune at most every prune_every_s: the expired row is still there"

    ticks = [0.0]
    ledger = SpentTokens(auth.app.state.factory, prune_every_s=10.0, clock=lambda: ticks[0])
    await ledger.spend(identity("first"))  # the ledger's first spend prunes
    async with auth.app.state.factory() as db:
        kept = await db.scalar(select(func.count()).select_from(SpentServiceToken))
    assert kept == 2, "the live token and this one"
    async with auth.app.state.factory() as db, db.begin():
        await db.execute(update(SpentServiceToken).values(expires_at=datetime.now(UTC)))
    ticks[0] = 9.9
    await ledger.spend(identity("second"))
    ticks[0] = 10.0
    await ledger.spend(identity("third"))
    async with auth.app.state.factory() as db:
        kept_ids = set((await db.scalars(select(SpentServiceToken.token_id))).all())
    assert kept_ids == {"second", "third"}, "only the live tokens are remembered"
    with pytest.raises(TokenReplayed):
        await ledger.spend(identity("third"))


def identity(token_id: str) -> ServiceIdentity:
    return ServiceIdentity(
        service="publisher-tiktok", token_id=token_id, expires_at=int(time.time()) + 60
    )


async def test_a_confirmation_batch_answers_each_lease_as_alone_once_the_accounts_changed(
    auth_with_queue, sign_in, consent, lease_client, grant, account_row, expire
):
    """Issue 9's race, against the real auth: leases granted, then one account changes
    hands and one is disconnected before the publisher's confirmation (sent for many
    commands at once); each answer is what auth says *now*, item by item."""
    auth = auth_with_queue  # the audit is read back through the data export
    kept = await connected(auth, sign_in, consent, "tiktok", user="sandbox-extra-kept")
    refreshed = await connected(auth, sign_in, consent, "youtube")
    handed = await connected(auth, sign_in, consent, "tiktok", user="sandbox-extra-handed")
    dropped = await connected(auth, sign_in, consent, "tiktok", user="sandbox-extra-dropped")
    asks = []
    for account_id in (kept, refreshed, handed, dropped):
        post_id, target_id = uuid.uuid4(), uuid.uuid4()
        signed = grant(await account_row(auth, account_id), post_id=post_id, target_id=target_id)
        asks.append(LeaseAsk(uuid.UUID(account_id), post_id, target_id, signed))
    unknown = LeaseAsk(uuid.uuid4(), uuid.uuid4(), None, asks[0].grant)
    async with httpx.AsyncClient() as http:
        tiktok = lease_client(auth, http).client("publisher-tiktok")
        youtube = lease_client(auth, http).client("publisher-youtube")
        before = [
            await tiktok.confirm([asks[0], asks[2], asks[3]]),
            await youtube.confirm(asks[1:2]),
        ]
        assert all(isinstance(a, Lease) for answers in before for a in answers)
        # after the leases, before the visible steps:
        alices = (await account_row(auth, handed)).client_id
        async with auth.browser() as alice:
            await sign_in(alice, "tiktok", user="sandbox-extra-handed")
            assert (await alice.delete(f"/api/v1/accounts/{handed}")).status_code == 204
        async with auth.browser() as other:  # a sign-in through it now starts a new client
            await sign_in(other, "tiktok", user="sandbox-extra-handed")
        assert (await account_row(auth, handed)).client_id != alices
        async with auth.browser() as bob:
            await sign_in(bob, "tiktok", user="sandbox-extra-dropped")
            assert (await bob.delete(f"/api/v1/accounts/{dropped}")).status_code == 204
        await expire(auth, refreshed)
        answers = await tiktok.confirm([asks[0], asks[2], asks[3], unknown, asks[1]])
        [refreshed_lease] = await youtube.confirm(asks[1:2])
    ok, not_owner, revoked, not_found, wrong_platform = answers
    assert isinstance(ok, Lease)
    assert ok.account_id == uuid.UUID(kept)
    assert isinstance(not_owner, LeaseRefused)
    assert (not_owner.status, not_owner.code) == (403, "not_owner")
    assert isinstance(revoked, LeaseReauthRequired)
    assert revoked.code == "revoked"
    assert isinstance(not_found, LeaseRefused)
    assert not_found.status == 404
    assert isinstance(wrong_platform, LeaseRefused)
    assert wrong_platform.code == "wrong_platform"
    assert isinstance(refreshed_lease, Lease)  # its token expired: refreshed first
    assert refreshed_lease.access_token != before[1][0].access_token  # type: ignore[union-attr]
    async with auth.browser() as owner:
        await sign_in(owner, "tiktok", user="sandbox-extra-kept")
        export = (await owner.get("/api/v1/me/export")).json()
    audited = [(x["service"], x["target_id"]) for x in export["token_leases"]]
    assert audited == [("publisher-tiktok", str(asks[0].target_id))] * 2  # leased, confirmed


async def confirmation_item(auth, sign_in, consent, grant, account_row) -> tuple[str, dict]:
    """A connected TikTok account's id and one item of a confirmation body for a new post."""
    account_id = await connected_tiktok(auth, sign_in, consent)
    post_id = uuid.uuid4()
    item = {
        "account_id": account_id,
        "post_id": str(post_id),
        "grant": grant(await account_row(auth, account_id), post_id=post_id),
    }
    return account_id, item


async def test_a_confirmation_batch_needs_service_credentials_and_at_most_its_limit_of_items(
    auth, sign_in, consent, lease_client, grant, account_row
):
    account_id, item = await confirmation_item(auth, sign_in, consent, grant, account_row)
    async with httpx.AsyncClient(base_url=auth.base_url) as http:
        bare = await http.post("/internal/v1/leases/confirm", json={"leases": [item]})

        def signed() -> dict[str, str]:
            token = mint_service_token(
                service="publisher-tiktok", secret="publisher-tiktok-test-secret-0123456789"
            )
            return {"Authorization": f"Bearer {token}"}

        empty = await http.post(
            "/internal/v1/leases/confirm", json={"leases": []}, headers=signed()
        )
        many = await http.post(
            "/internal/v1/leases/confirm",
            json={"leases": [item] * (MAX_CONFIRM_BATCH + 1)},
            headers=signed(),
        )
        bad = await http.post(
            "/internal/v1/leases/confirm",
            json={"leases": [{**item, "account_id": "nope"}]},
            headers=signed(),
        )
        one = await http.post(
            "/internal/v1/leases/confirm", json={"leases": [item]}, headers=signed()
        )
    assert bare.status_code == 401
    assert [r.status_code for r in (empty, many, bad)] == [422, 422, 422]
    assert all(
        r.headers["content-type"].startswith("application/problem+json") for r in (bare, bad)
    )
    assert "leases" in str(bad.json()["errors"])
    [answer] = one.json()["leases"]
    assert answer["status"] == 200
    assert answer["lease"]["account_id"] == account_id


async def test_a_confirmation_spends_its_service_token_once_even_when_its_body_was_refused(
    auth, sign_in, consent, grant, account_row
):
    """The confirmation spends its JWT in its own transaction (issue 9); a JWT sent with a
    body refused before that transaction, or replayed after an answer, serves nothing more."""
    _, item = await confirmation_item(auth, sign_in, consent, grant, account_row)
    url = "/internal/v1/leases/confirm"
    refused_first = {"Authorization": f"Bearer {tiktok_token()}"}
    answered_first = {"Authorization": f"Bearer {tiktok_token()}"}
    async with httpx.AsyncClient(base_url=auth.base_url) as http:
        bad_body = await http.post(url, json={"leases": []}, headers=refused_first)
        after_bad_body = await http.post(url, json={"leases": [item]}, headers=refused_first)
        answered = await http.post(url, json={"leases": [item]}, headers=answered_first)
        replayed = await http.post(url, json={"leases": [item]}, headers=answered_first)
    assert bad_body.status_code == 422
    assert answered.status_code == 200
    assert answered.json()["leases"][0]["status"] == 200
    for again in (after_bad_body, replayed):
        assert again.status_code == 401
        assert again.json()["code"] == "token_replayed"
        assert "access_token" not in again.text


@pytest.mark.parametrize("platform", ["vk", "tiktok"])
async def test_a_token_the_platform_refuses_after_a_refresh_shows_the_account_to_reconnect(
    auth, sign_in, consent, lease_client, grant, account_row, platform
):
    """Issue 10: after VK's error 5 the queue paused the post "Reconnect VK" while the
    accounts list said ``ok``. The publisher's word marks the account, on every platform."""
    async with auth.browser() as browser, httpx.AsyncClient() as http:
        await sign_in(browser, platform)
        await consent(browser)
        account_id = str((await browser.get("/api/v1/accounts")).json()[0]["id"])
        row = await account_row(auth, account_id)
        post_id, target_id = uuid.uuid4(), uuid.uuid4()
        signed = grant(row, post_id=post_id, target_id=target_id)
        ask = LeaseAsk(uuid.UUID(account_id), post_id, target_id, signed)
        leases = lease_client(auth, http)
        publisher = leases.client(f"publisher-{platform}")
        refused = await publisher.lease(
            ask.account_id, post_id=post_id, target_id=target_id, grant=signed
        )
        version = refused.token_version
        with pytest.raises(LeaseRefused) as forged:  # another publisher may not say so
            await leases.client("publisher-youtube").rejected(ask, token_version=version)
        assert forged.value.code == "wrong_platform"
        assert (await browser.get("/api/v1/accounts")).json()[0]["status"] == "ok"
        await publisher.rejected(ask, token_version=version)
        [listed] = (await browser.get("/api/v1/accounts")).json()
        with pytest.raises(LeaseReauthRequired):
            await leases.lease(uuid.UUID(account_id), post_id=uuid.uuid4())
    assert listed["status"] == "reauth_required", listed
    await auth.app.state.relay.drain()
    assert auth.events.types(account_id)[-1] == "reauth_required"


async def test_a_late_refusal_report_on_a_token_the_client_has_since_replaced_is_ignored(
    auth, sign_in, consent, lease_client, grant, account_row, caplog
):
    """Read-back of session 8: the publisher's "refused even after a refresh" report may
    arrive after the client reconnected (new tokens); it names the refused lease's token
    version, and a report on an older version must not mark the new connection
    ``reauth_required``. The version is a counter, never the token."""
    async with auth.browser() as browser, httpx.AsyncClient() as http:
        await sign_in(browser, "vk")
        await consent(browser)
        account_id = str((await browser.get("/api/v1/accounts")).json()[0]["id"])
        row = await account_row(auth, account_id)
        post_id, target_id = uuid.uuid4(), uuid.uuid4()
        signed = grant(row, post_id=post_id, target_id=target_id)
        ask = LeaseAsk(uuid.UUID(account_id), post_id, target_id, signed)
        vk = lease_client(auth, http).client("publisher-vk")
        before = await vk.lease(ask.account_id, post_id=post_id, target_id=target_id, grant=signed)
        await sign_in(browser, "vk")  # the client reconnects: tokens stored anew
        after = await vk.lease(ask.account_id, post_id=post_id, target_id=target_id, grant=signed)
        with caplog.at_level(logging.INFO, logger="cachalot_auth.leasing"):
            await vk.rejected(ask, token_version=before.token_version)
        [stale] = (await browser.get("/api/v1/accounts")).json()
        await vk.rejected(ask, token_version=after.token_version)
        [current] = (await browser.get("/api/v1/accounts")).json()
    assert isinstance(before.token_version, int)
    assert isinstance(after.token_version, int)
    assert after.token_version > before.token_version
    assert stale["status"] == "ok", stale
    assert "token rejection ignored, stale" in caplog.text
    assert current["status"] == "reauth_required", current
