"""Sessions ended at auth (logout, erasure) are refused here, from the ``sessions.v1`` feed.

Issue 8 item 1: the queue checked only signature and expiry, so a cookie
kept after logout or ``DELETE /api/v1/me`` listed, uploaded and queued for
its whole 14-day life. Real broker and real databases (SQLite and
PostgreSQL), except one test that drives the handler through FastStream's
in-memory broker.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from faststream.kafka import TestKafkaBroker
from queue_support import (
    SECRET,
    VIDEO,
    ApiClient,
    Kafka,
    QueueServer,
    at_offset,
    eventually,
    now,
    start_queue,
)
from sqlalchemy import func, select

from cachalot_common.db import run_migrations_async
from cachalot_common.events import SessionEnded
from cachalot_common.kafka import encode
from cachalot_common.sessions import COOKIE_NAME, MemoryRevocations, issue_session
from cachalot_common.topic_plan import ensure_topics
from cachalot_common.topics import SESSIONS
from cachalot_queue.main import ALEMBIC_DIR, create_app
from cachalot_queue.revocations import Revocations
from cachalot_queue.settings import QueueSettings
from cachalot_queue.tables import Media, SessionRevocation
from cachalot_testing.broker import TansuBroker

pytestmark = pytest.mark.integration


def revoked(client: ApiClient) -> SessionEnded:
    assert client.session is not None
    return SessionEnded(
        type="revoked",
        client_id=client.id,
        session_id=client.session.session_id,
        expires_at=now() + timedelta(hours=1),
    )


def erased(client_id: uuid.UUID) -> SessionEnded:
    return SessionEnded(
        type="client_erased", client_id=client_id, expires_at=now() + timedelta(hours=1)
    )


def videos(media_dir: Path) -> set[Path]:
    """The stored videos (not the store's working folders)."""
    return {p for p in media_dir.iterdir() if p.is_file()}


async def publish(queue: QueueServer, event: SessionEnded) -> None:
    await queue.kafka.send(SESSIONS, event, key=str(event.client_id))


async def refused_within_seconds(client: ApiClient, method: str, path: str, **kw: Any) -> None:
    """The request gets 401 problem+json within 10 s of the event (the consumer's lag)."""

    async def answer() -> httpx.Response | None:
        response = await client.http.request(method, path, **kw)
        return response if response.status_code == 401 else None

    response = await eventually(answer, timeout=10, every=0.1)
    assert response.headers["content-type"] == "application/problem+json"
    assert "ended" in response.json()["detail"]


async def test_a_revoked_session_can_no_longer_list_read_or_export_posts(
    queue: QueueServer,
) -> None:
    ended = queue.client()
    kept = queue.client(ended.id)  # another browser of the same client
    post = await ended.queue(youtube=await ended.account("youtube"), at=at_offset(3600))
    await publish(queue, revoked(ended))
    await refused_within_seconds(ended, "GET", "/api/v1/posts")
    for path in (f"/api/v1/posts/{post['id']}", "/api/v1/posts/export"):
        response = await ended.http.get(path)
        assert response.status_code == 401, path
    assert [p["id"] for p in (await kept.http.get("/api/v1/posts")).json()["items"]] == [post["id"]]
    assert (await kept.get(post["id"]))["id"] == post["id"]
    assert (await kept.http.get("/api/v1/posts/export")).status_code == 200


async def test_a_revoked_session_can_no_longer_upload_media(queue: QueueServer) -> None:
    ended = queue.client()
    kept = queue.client(ended.id)
    await publish(queue, revoked(ended))
    await refused_within_seconds(ended, "GET", "/api/v1/posts")
    before = videos(queue.runtime.settings.media_dir)
    response = await ended.http.post(
        "/api/v1/media",
        content=VIDEO,
        headers={"Content-Type": "video/mp4"},
    )
    assert response.status_code == 401
    assert videos(queue.runtime.settings.media_dir) == before
    await kept.upload()


async def test_a_revoked_session_can_no_longer_queue_a_post(queue: QueueServer) -> None:
    ended = queue.client()
    kept = queue.client(ended.id)
    youtube = await ended.account("youtube")
    media = await ended.upload()
    target = {"account_id": str(youtube), "youtube": {"title": "t"}}
    body = {"media_id": media["id"], "targets": [target]}
    await publish(queue, revoked(ended))
    await refused_within_seconds(ended, "GET", "/api/v1/posts")
    assert (await ended.post(body)).status_code == 401
    assert (await kept.http.get("/api/v1/posts")).json()["items"] == []
    assert (await kept.post(body)).status_code == 201


async def test_a_revoked_session_can_no_longer_cancel_or_retry_a_post(
    queue: QueueServer,
) -> None:
    ended = queue.client()
    kept = queue.client(ended.id)
    post = await ended.queue(youtube=await ended.account("youtube"), at=at_offset(3600))
    await publish(queue, revoked(ended))
    await refused_within_seconds(ended, "GET", "/api/v1/posts")
    assert (await ended.http.post(f"/api/v1/posts/{post['id']}/cancel")).status_code == 401
    assert (await ended.http.post(f"/api/v1/posts/{post['id']}/retry")).status_code == 401
    assert (await kept.get(post["id"]))["targets"][0]["status"] == "scheduled"
    assert (await kept.http.post(f"/api/v1/posts/{post['id']}/cancel")).status_code == 200


async def test_after_the_client_is_erased_every_old_session_is_refused_and_its_videos_are_gone(
    queue: QueueServer,
) -> None:
    first = queue.client()
    second = queue.client(first.id)
    media = await first.upload()  # a client without any account: accounts.v1 says nothing
    stored = list(queue.runtime.settings.media_dir.glob(f"{media['id']}.*"))
    assert stored
    await publish(queue, erased(first.id))
    await refused_within_seconds(first, "GET", "/api/v1/posts")
    await refused_within_seconds(second, "GET", "/api/v1/posts/export")

    async def forgotten() -> bool:
        async with queue.runtime.reader() as session:
            rows = await session.scalar(
                select(func.count()).select_from(Media).where(Media.client_id == first.id)
            )
        return rows == 0 and not stored[0].exists()

    await eventually(forgotten, timeout=10)


async def test_an_upload_that_races_the_erasure_is_refused_and_nothing_of_it_is_kept(
    queue: QueueServer,
) -> None:
    """Another replica applied the erasure; this one has not read the event yet."""
    late = queue.client()
    runtime = queue.runtime
    other_replica = Revocations(
        runtime.factory,
        reader=runtime.reader,
        memory=MemoryRevocations(),
        media_dir=runtime.settings.media_dir,
        clock=now,
    )
    await other_replica.on_session(erased(late.id))
    assert late.session is not None
    assert not runtime.revocations.memory.is_revoked(late.session)
    before = videos(runtime.settings.media_dir)
    response = await late.http.post(
        "/api/v1/media",
        content=VIDEO,
        headers={"Content-Type": "video/mp4"},
    )
    assert response.status_code == 401, response.text
    assert videos(runtime.settings.media_dir) <= before
    async with runtime.reader() as session:
        rows = await session.scalar(
            select(func.count()).select_from(Media).where(Media.client_id == late.id)
        )
    assert rows == 0


async def test_revocations_survive_a_restart_from_the_database(
    queue: QueueServer, kafka_bootstrap: str, kafka_idempotence: bool, tmp_path: Path
) -> None:
    """The event never reaches the broker here: only the table can tell the new process."""
    client = queue.client()
    await queue.runtime.revocations.on_session(revoked(client))
    restarted = await start_queue(
        queue.runtime.settings.database_url,
        kafka_bootstrap,
        kafka_idempotence,
        queue.runtime.settings.media_dir,
    )
    try:
        assert client.session is not None
        token, _ = issue_session(client_id=client.id, secret=SECRET, lifetime_s=60)
        async with httpx.AsyncClient(base_url=restarted.base_url) as http:
            http.cookies.set(COOKIE_NAME, client.http.cookies[COOKIE_NAME])
            assert (await http.get("/api/v1/posts")).status_code == 401
            http.cookies.set(COOKIE_NAME, token)  # a new sign-in of the same client
            assert (await http.get("/api/v1/posts")).status_code == 200
    finally:
        await restarted.stop()
        await restarted.kafka.stop()


async def test_revocations_are_pruned_once_their_sessions_have_expired(
    queue: QueueServer,
) -> None:
    client = queue.client()
    event = revoked(client)
    await queue.runtime.revocations.on_session(event)
    async with queue.runtime.factory() as session, session.begin():
        row = await session.get(SessionRevocation, event.event_id)
        assert row is not None
        row.expires_at = now() - timedelta(seconds=1)
    await queue.runtime.revocations.prune()
    async with queue.runtime.reader() as session:
        assert await session.get(SessionRevocation, event.event_id) is None
    stale = SessionEnded(
        type="client_erased", client_id=uuid.uuid4(), expires_at=now() - timedelta(seconds=1)
    )
    await queue.runtime.revocations.on_session(stale)  # already expired: nothing to keep
    async with queue.runtime.reader() as session:
        assert await session.get(SessionRevocation, stale.event_id) is None


async def test_the_handler_refuses_a_revoked_session_in_memory_broker(tmp_path: Path) -> None:
    """FastStream's TestKafkaBroker drives the subscriber the app registered."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
    await run_migrations_async(ALEMBIC_DIR, url)
    settings = QueueSettings(
        database_url=url,
        session_secret=SECRET,
        media_dir=tmp_path / "media",
        environment="test",
        log_format="text",
        auto_migrate=False,
        run_workers=False,
    )
    app = create_app(settings)
    broker = app.state.runtime.broker
    client_id = uuid.uuid4()
    ended, session = issue_session(client_id=client_id, secret=SECRET, lifetime_s=600)
    kept, _ = issue_session(client_id=client_id, secret=SECRET, lifetime_s=600)
    event = SessionEnded(
        type="revoked",
        client_id=client_id,
        session_id=session.session_id,
        expires_at=now() + timedelta(minutes=10),
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with (
            TestKafkaBroker(broker) as test_broker,
            httpx.AsyncClient(transport=transport, base_url="http://q") as http,
        ):
            http.cookies.set(COOKIE_NAME, ended)
            assert (await http.get("/api/v1/posts")).status_code == 200
            for _ in range(2):  # delivered twice, as at-least-once may
                await test_broker.publish(encode(event), topic=SESSIONS, key=str(client_id))
            assert (await http.get("/api/v1/posts")).status_code == 401
            http.cookies.set(COOKIE_NAME, kept)
            assert (await http.get("/api/v1/posts")).status_code == 200
        async with app.state.runtime.reader() as db:
            rows = await db.scalar(select(func.count()).select_from(SessionRevocation))
        assert rows == 1  # the redelivery changed nothing
    finally:
        await app.state.runtime.engine.dispose()


async def test_sessions_ended_after_a_broker_restart_quicker_than_any_look_are_all_refused(
    own_broker: TansuBroker, tmp_path: Path
) -> None:
    """Issue 11 (s8 MEDIUM): the revocations are read with no consumer group, from the
    reader's own offsets. Tansu restarted empty between two fetches, quicker than the
    broker watch looks, and the new log held more session ends than the reader had read:
    it fetched on at its old offset and never saw the first ones, so those sessions stayed
    valid. One client's sessions, so every end goes to one partition."""
    await ensure_topics(own_broker.bootstrap)
    queue = await start_queue(
        f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}",
        own_broker.bootstrap,
        False,
        tmp_path / "media",
        kafka_ensure_topics=True,
    )
    client_id = uuid.uuid4()

    def session_and_its_end() -> tuple[str, SessionEnded]:
        token, session = issue_session(client_id=client_id, secret=SECRET, lifetime_s=3600)
        end = SessionEnded(
            type="revoked",
            client_id=client_id,
            session_id=session.session_id,
            expires_at=now() + timedelta(hours=1),
        )
        return token, end

    async def all_refused(tokens: list[str]) -> None:
        async with httpx.AsyncClient(base_url=queue.base_url, timeout=10) as http:

            async def refused() -> bool:
                for token in tokens:
                    response = await http.get("/api/v1/posts", cookies={COOKIE_NAME: token})
                    if response.status_code != 401:
                        return False
                return True

            await eventually(refused, timeout=30, every=0.2)

    try:
        before = [session_and_its_end() for _ in range(3)]
        for _, end in before:
            await publish(queue, end)
        await all_refused([token for token, _ in before])

        after = [session_and_its_end() for _ in range(8)]

        async def write(bootstrap: str) -> None:
            await ensure_topics(bootstrap)
            fresh = Kafka(bootstrap, False)
            await fresh.start()
            try:
                for _, end in after:
                    await fresh.send(SESSIONS, end, key=str(client_id))
            finally:
                await fresh.stop()

        own_broker.restart_unseen(write)  # this loop is held: no fetch, no probe in between
        await all_refused([token for token, _ in after])
    finally:
        await queue.stop()
        await queue.kafka.stop()
