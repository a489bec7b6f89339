"""Across process and broker boundaries: the event on the real broker, clean logs."""

from __future__ import annotations

import asyncio
import json
import uuid
from types import SimpleNamespace

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from cachalot_common import topics
from cachalot_common.crypto import generate_key
from cachalot_common.leases import LeaseReauthRequired, LeaseRefused
from cachalot_testing.processes import ServiceProcess


async def read_account_events(bootstrap: str, account_id: str, want: set[str]) -> list[dict]:
    consumer = AIOKafkaConsumer(
        topics.ACCOUNTS,
        bootstrap_servers=bootstrap,
        group_id=None,  # no group join: Tansu holds each join for seconds
        auto_offset_reset="earliest",
    )
    await consumer.start()
    found: list[dict] = []
    try:
        async with asyncio.timeout(30):
            while not want <= {e["type"] for e in found}:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        event = json.loads(record.value)
                        if record.key == account_id.encode():
                            found.append(event)
    finally:
        await consumer.stop()
    return found


async def test_invalid_grant_reaches_the_real_broker_as_reauth_required(
    start_auth,
    tmp_path,
    kafka_bootstrap,
    sign_in,
    consent,
    lease_client,
    expire,
    fresh_sandbox,
    faults,
):
    async with start_auth(
        f"sqlite+aiosqlite:///{tmp_path}/auth.db",
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=False,
        app_options={"use_kafka": True},
    ) as auth:
        async with auth.browser() as browser:
            await sign_in(browser, "tiktok")
            await consent(browser)
            account_id = (await browser.get("/api/v1/accounts")).json()[0]["id"]
        await expire(auth, account_id)
        await faults(
            fresh_sandbox, "tiktok", [{"error": "invalid_grant", "grant_type": "refresh_token"}]
        )
        async with httpx.AsyncClient() as http:
            with pytest.raises(LeaseReauthRequired) as refused:
                await lease_client(auth, http).lease(uuid.UUID(account_id), post_id=uuid.uuid4())
        assert refused.value.code == "reauth_required"
        events = await read_account_events(
            kafka_bootstrap, account_id, {"connected", "reauth_required"}
        )
    reauth = next(e for e in events if e["type"] == "reauth_required")
    assert reauth["platform"] == "tiktok"
    assert "sign in again" in reauth["reason"]
    assert "act." not in json.dumps(events)


async def test_no_token_text_in_the_service_logs(
    fresh_sandbox,
    tmp_path,
    sign_in,
    consent,
    lease_client,
    expire,
    grant,
    service_credentials,
    grant_public_keys,
):
    env = {f"CACHALOT_{k.upper()}": v for k, v in fresh_sandbox.platform_env().items()} | {
        "CACHALOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/auth.db",
        "CACHALOT_TOKEN_KEYS": f"v1:{generate_key()}",
        "CACHALOT_SESSION_SECRET": "process-session-secret-0123456789",
        "CACHALOT_COOKIE_SECURE": "false",
        "CACHALOT_SERVICE_CREDENTIALS": service_credentials,
        "CACHALOT_GRANT_PUBLIC_KEYS": grant_public_keys,
        "CACHALOT_KAFKA_BOOTSTRAP": "127.0.0.1:1",  # no broker: events wait in the outbox
        "CACHALOT_ACCESS_LOG_DIR": str(tmp_path / "access"),
        "CACHALOT_LOG_LEVEL": "DEBUG",
    }
    process = ServiceProcess("cachalot_auth", env=env, log_path=tmp_path / "auth.log")
    process.env["CACHALOT_PUBLIC_URL"] = process.base_url
    await fresh_sandbox.register_callbacks(process.base_url)
    process.start(timeout=90)
    seen: list[str] = []
    try:

        class Running:
            base_url = process.base_url

            def browser(self) -> httpx.AsyncClient:
                return httpx.AsyncClient(base_url=process.base_url, timeout=30)

        running = Running()
        async with running.browser() as browser:
            await sign_in(browser, "tiktok")
            await consent(browser)
            account_id = (await browser.get("/api/v1/accounts")).json()[0]["id"]
            seen.append(browser.cookies["cachalot_session"])
            client_id = (await browser.get("/api/v1/me")).json()["client_id"]
        row = SimpleNamespace(id=account_id, client_id=client_id, platform="tiktok")
        async with httpx.AsyncClient() as http:
            client = lease_client(running, http).client("publisher-tiktok")
            for force in (False, True, True):
                post_id = uuid.uuid4()
                signed = grant(row, post_id=post_id)
                lease = await client.lease(
                    uuid.UUID(account_id), post_id=post_id, grant=signed, force_refresh=force
                )
                seen += [lease.access_token, signed]
            with pytest.raises(LeaseRefused):  # a refusal is logged: without the grant
                await client.lease(uuid.UUID(account_id), post_id=uuid.uuid4(), grant=signed)
    finally:
        process.stop()
    logs = process.output() + "".join(p.read_text() for p in (tmp_path / "access").glob("*.log"))
    assert "lease" in logs or "POST" in logs
    for secret in [*seen, "sandbox-tiktok-client-secret", env["CACHALOT_TOKEN_KEYS"][3:]]:
        assert secret not in logs
    assert "code=" not in logs
    assert "state=" not in logs
