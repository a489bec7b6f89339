"""Logout and erasure end the session here and tell every other service (``sessions.v1``).

Issue 8 item 1: the other services learn of ended sessions only from auth's
feed, written in the same transaction as the change in auth's database.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import jwt
from aiokafka import AIOKafkaConsumer
from sqlalchemy import select

from cachalot_auth.models import OutboxMessage
from cachalot_common import topics
from cachalot_common.sessions import COOKIE_NAME

CLIENT_ENDPOINTS = [
    ("GET", "/api/v1/me", None),
    ("POST", "/api/v1/me/consent", {"adult": True, "email": "a@example.com"}),
    ("GET", "/api/v1/me/export", None),
    ("GET", "/api/v1/accounts", None),
    ("DELETE", "/api/v1/accounts/00000000-0000-0000-0000-000000000000", None),
    ("POST", "/api/v1/accounts/telegram/channel", {"channel_id": "@somechannel"}),
    ("DELETE", "/api/v1/me", None),
]


def claims(cookie: str) -> dict[str, Any]:
    return dict(jwt.decode(cookie, options={"verify_signature": False}))


def session_events(auth: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(k, p) for topic, k, p in auth.events.published if topic == topics.SESSIONS]


async def test_logout_writes_a_revoked_event_naming_that_session_once(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        cookie = browser.cookies[COOKIE_NAME]
        assert (await browser.post("/api/v1/auth/logout")).status_code == 204
    async with auth.browser() as replay:  # the same cookie, logged out again
        replay.cookies.set(COOKIE_NAME, cookie)
        assert (await replay.post("/api/v1/auth/logout")).status_code == 204
    await auth.app.state.relay.drain()
    sent = session_events(auth)
    token = claims(cookie)
    assert [(k, p["type"], p["session_id"]) for k, p in sent] == [
        (token["sub"], "revoked", token["sid"])
    ]
    assert sent[0][1]["client_id"] == token["sub"]
    assert abs(_epoch(sent[0][1]["expires_at"]) - token["exp"]) <= 2


async def test_erasure_writes_client_erased_in_the_same_transaction(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        cookie = browser.cookies[COOKIE_NAME]
        assert (await browser.delete("/api/v1/me")).status_code == 204
    async with auth.app.state.factory() as db:  # written with the deletion, before any relay
        rows = (
            await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == topics.SESSIONS))
        ).all()
    token = claims(cookie)
    assert [(r.key, json.loads(r.payload)["type"]) for r in rows] == [
        (token["sub"], "client_erased")
    ]
    event = json.loads(rows[0].payload)
    assert event["session_id"] is None
    assert _epoch(event["expires_at"]) >= token["exp"] - 2


async def test_erasure_deletes_the_clients_sent_outbox_rows_and_keeps_only_its_announcements(
    auth, sign_in
):
    """Sent rows are kept an hour for a broker that lost them: an erased client's go at once;
    what still names it is the erasure's own news (ids only), which readers need."""
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await sign_in(browser, "youtube")
        client_id = (await browser.get("/api/v1/me")).json()["client_id"]
        await auth.app.state.relay.drain()  # "connected" twice, sent
        async with auth.app.state.factory() as db:
            sent = (await db.scalars(select(OutboxMessage))).all()
        assert [r for r in sent if r.sent_at is not None and client_id in r.payload]
        assert (await browser.delete("/api/v1/me")).status_code == 204
    await auth.app.state.relay.drain()
    async with auth.app.state.factory() as db:
        rows = (await db.scalars(select(OutboxMessage))).all()
    naming = [json.loads(r.payload)["type"] for r in rows if client_id in r.payload + r.key]
    # the accounts' revocations too when the relay had not sent them before the erasure
    assert sorted(t for t in naming if t != "revoked") == ["client_erased", "deleted", "deleted"]
    assert naming.count("revoked") <= 2


async def test_an_ended_session_is_refused_on_every_client_endpoint(auth, sign_in):
    for end in ("logout", "erase"):
        async with auth.browser() as browser:
            await sign_in(browser, "tiktok")
            kept = browser.cookies[COOKIE_NAME]
            if end == "logout":
                assert (await browser.post("/api/v1/auth/logout")).status_code == 204
            else:
                assert (await browser.delete("/api/v1/me")).status_code == 204
        async with auth.browser() as thief:
            thief.cookies.set(COOKIE_NAME, kept)
            for method, path, body in CLIENT_ENDPOINTS:
                response = await thief.request(method, path, json=body)
                assert response.status_code == 401, (end, method, path, response.text)
                assert response.headers["content-type"] == "application/problem+json"


async def test_logout_reaches_the_real_broker_on_sessions_v1(
    start_auth, tmp_path, kafka_bootstrap, sign_in
):
    async with start_auth(
        f"sqlite+aiosqlite:///{tmp_path}/auth.db",
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=False,
        app_options={"use_kafka": True},
    ) as auth:
        async with auth.browser() as browser:
            await sign_in(browser, "tiktok")
            sid = claims(browser.cookies[COOKIE_NAME])["sid"]
            assert (await browser.post("/api/v1/auth/logout")).status_code == 204
        consumer = AIOKafkaConsumer(
            topics.SESSIONS,
            bootstrap_servers=kafka_bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(30):
                while not any(e.get("session_id") == sid for e in found):
                    batch = await consumer.getmany(timeout_ms=500)
                    found += [json.loads(r.value) for rs in batch.values() for r in rs]
        finally:
            await consumer.stop()
    assert next(e for e in found if e.get("session_id") == sid)["type"] == "revoked"


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()
