"""Tokens at rest: nothing readable in the database, nothing movable between rows."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from sqlalchemy import select, text, update

from cachalot_auth.custody import TokenVault
from cachalot_auth.models import Account, Token
from cachalot_auth.rotation import rotate_keys
from cachalot_common.crypto import KeyRing, TokenDecryptionError, generate_key


async def all_rows_as_text(factory) -> str:
    """Every value of every table, as one string (what a database dump would show)."""
    chunks: list[str] = []
    async with factory() as db:
        for table in (
            "clients",
            "accounts",
            "tokens",
            "sessions",
            "oauth_attempts",
            "lease_audit",
            "outbox",
        ):
            for row in (await db.execute(text(f"SELECT * FROM {table}"))).all():
                chunks.append(" ".join(str(v) for v in row))
    return "\n".join(chunks)


async def two_accounts(auth, sign_in, consent) -> list[str]:
    ids = []
    for user in ("-000sandboxAliceOpenId", "-000sandboxBobOpenId"):
        async with auth.browser() as browser:
            await sign_in(browser, "tiktok", user=user)
            await consent(browser)
            ids.append((await browser.get("/api/v1/accounts")).json()[0]["id"])
    return ids


async def test_the_raw_database_holds_no_token(auth, sign_in, consent, lease_client, expire):
    ids = await two_accounts(auth, sign_in, consent)
    seen: list[str] = []
    async with httpx.AsyncClient() as http:
        client = lease_client(auth, http)
        for account_id in ids:
            seen.append(
                (await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4())).access_token
            )
            await expire(auth, account_id)
            seen.append(
                (await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4())).access_token
            )
    dump = await all_rows_as_text(auth.app.state.factory)
    assert "v1." in dump  # sealed tokens are there...
    for token in seen:
        assert token not in dump  # ...but no plaintext
        assert token.removeprefix("act.") not in dump


async def test_a_ciphertext_moved_to_another_row_fails_to_decrypt_naming_the_account(
    auth, sign_in, consent, lease_client, grant, account_row
):
    alice, bob = await two_accounts(auth, sign_in, consent)
    async with auth.app.state.factory() as db, db.begin():
        stolen = await db.scalar(
            select(Token.ciphertext).where(Token.account_id == alice, Token.kind == "access")
        )
        await db.execute(
            update(Token)
            .where(Token.account_id == bob, Token.kind == "access")
            .values(ciphertext=stolen)
        )
    vault: TokenVault = auth.app.state.vault
    async with auth.app.state.factory() as db:
        account = await db.get(Account, bob)
        row = await db.get(Token, (bob, "access"))
        with pytest.raises(TokenDecryptionError, match=bob):
            vault.open(account, row)
        refresh = await db.get(Token, (alice, "refresh"))
        row.ciphertext = refresh.ciphertext  # access/refresh swap within one account
        with pytest.raises(TokenDecryptionError):
            vault.open(await db.get(Account, alice), row)
    post_id = uuid.uuid4()
    bobs_grant = grant(await account_row(auth, bob), post_id=post_id)
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{auth.base_url}/internal/v1/accounts/{bob}/lease",
            json={"post_id": str(post_id), "grant": bobs_grant},
            headers={"Authorization": "Bearer " + _service_token()},
        )
    assert answer.status_code == 500
    assert bob in answer.json()["detail"]
    assert "act." not in answer.text


def _service_token() -> str:
    from cachalot_common.service_auth import mint_service_token

    return mint_service_token(
        service="publisher-tiktok", secret="publisher-tiktok-test-secret-0123456789"
    )


async def test_key_rotation_round_trip_under_concurrent_leases(
    auth, sign_in, consent, lease_client, expire
):
    """Leases (each refreshing, so each writes a token sealed with the newest key) run while
    the rotation reseals; the test repeats the rotation with a newer key until at least one
    lease really overlapped one (a rotation of four rows can be over in milliseconds), and
    checks after each that every token opens with the newest key alone."""
    ids = await two_accounts(auth, sign_in, consent)
    factory = auth.app.state.factory
    ring_setting = auth.settings.token_keys.get_secret_value()
    overlapped = 0
    for version in range(2, 8):
        key = generate_key()
        ring_setting = f"v{version}:{key},{ring_setting}"
        new_ring = KeyRing.from_setting(ring_setting)
        # the running service learns the new key (as a redeploy with it first would)
        auth.app.state.vault.keys = new_ring
        stop = asyncio.Event()
        spans: list[tuple[float, float]] = []

        async def keep_leasing(stop: asyncio.Event, spans: list[tuple[float, float]]) -> None:
            async with httpx.AsyncClient() as http:
                client = lease_client(auth, http)
                while not stop.is_set():  # the first account refreshes all along
                    started = time.monotonic()
                    await expire(auth, ids[0])
                    lease = await client.lease(uuid.UUID(ids[0]), post_id=uuid.uuid4())
                    assert lease.access_token
                    spans.append((started, time.monotonic()))

        load = asyncio.create_task(keep_leasing(stop, spans))
        while not spans:  # leasing is under way before the rotation starts
            await asyncio.sleep(0.01)
        began = time.monotonic()
        report = await rotate_keys(factory, TokenVault(new_ring), batch=1)
        ended = time.monotonic()
        stop.set()
        await load
        assert report.failed == 0
        async with factory() as db:
            versions = set((await db.scalars(select(Token.key_version))).all())
            assert versions == {f"v{version}"}
            only_newest = TokenVault(KeyRing.from_setting(f"v{version}:{key}"))
            for token, account in (await db.execute(select(Token, Account).join(Account))).all():
                assert only_newest.open(account, token)
        overlapped += sum(1 for a, b in spans if a < ended and b > began)
        if overlapped:
            break
    assert overlapped, "no lease ran during any rotation"
    async with httpx.AsyncClient() as http:
        for account_id in ids:
            lease = await lease_client(auth, http).lease(
                uuid.UUID(account_id), post_id=uuid.uuid4()
            )
            assert lease.access_token
    again = await rotate_keys(factory, TokenVault(new_ring))
    assert (again.resealed, again.failed) == (0, 0)  # resumable: nothing left to do


async def test_a_refresh_that_lands_while_the_rotation_reseals_its_row_is_not_undone(
    auth, sign_in, consent
):
    """fresh11k (issue 11 item 9): the round-trip test above passes with the rotation's
    compare-and-set removed, since no refresh ever lands between its read of a row and
    its write-back. Here one does, deterministically: the refreshed token is written just
    before the rotation's first write-back opens its session; the rotation must leave it."""
    await two_accounts(auth, sign_in, consent)
    factory = auth.app.state.factory
    current = auth.settings.token_keys.get_secret_value()
    ring = KeyRing.from_setting(f"v9:{generate_key()},{current}")
    auth.app.state.vault.keys = ring
    vault = TokenVault(ring)
    async with factory() as db:
        token, account = (
            await db.execute(
                select(Token, Account).join(Account).order_by(Token.account_id, Token.kind).limit(1)
            )
        ).one()
        place = (token.account_id, token.kind)
        refreshed, version = vault.seal(account, token.kind, "refreshed-by-a-lease")
    sessions = 0

    class RefreshFirst:
        """A session whose opening is preceded by a lease's refresh of ``place``."""

        def __init__(self, session):
            self.session = session

        async def __aenter__(self):
            async with factory() as other, other.begin():
                await other.execute(
                    update(Token)
                    .where(Token.account_id == place[0], Token.kind == place[1])
                    .values(ciphertext=refreshed, key_version=version)
                )
            return await self.session.__aenter__()

        async def __aexit__(self, *exc):
            return await self.session.__aexit__(*exc)

    def racing_factory():
        nonlocal sessions
        sessions += 1  # the first session reads the batch, the second writes row one back
        return RefreshFirst(factory()) if sessions == 2 else factory()

    report = await rotate_keys(racing_factory, vault, batch=100)
    async with factory() as db:
        token, account = (
            await db.execute(
                select(Token, Account)
                .join(Account)
                .where(Token.account_id == place[0], Token.kind == place[1])
            )
        ).one()
        kept = vault.open(account, token) == "refreshed-by-a-lease"  # no token in the output
    assert kept, "the rotation wrote the token it had read over the lease's refreshed one"
    assert report.skipped_changed == 1, report
