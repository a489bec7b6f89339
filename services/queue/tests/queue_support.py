"""Helpers for the queue's tests: real servers over real HTTP, a real broker, real databases.

A queue runs in-process under uvicorn on a free port (so tests can read its
database through the same engine), with its own consumer group so several
queues in one session never split each other's partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import select

from cachalot_common.events import AccountChanged, PublishResult
from cachalot_common.grants import generate_signing_key
from cachalot_common.kafka import encode
from cachalot_common.platforms import PlatformSpec
from cachalot_common.sessions import COOKIE_NAME, Session, issue_session
from cachalot_common.topics import (
    ACCOUNTS,
    NOTIFY,
    POSTS_RESULT,
    POSTS_STATUS,
    PROPOSALS,
    publish_topic,
)
from cachalot_queue.dispatch import Granter
from cachalot_queue.main import Runtime, create_app
from cachalot_queue.settings import QueueSettings
from cachalot_queue.tables import Account, Target
from cachalot_testing.media import video_bytes
from cachalot_testing.ports import free_port

SECRET = "queue-tests-session-secret-0123456789abcdef"
GRANT_KEY = generate_signing_key("queue-tests")  # signs publish grants
GRANTS = Granter(key=GRANT_KEY, lifetime_s=3600)
FIXTURES = Path(__file__).parent / "fixtures"
VIDEO = video_bytes()
"""A real 360×640, 30 fps, 3 s MP4 every platform takes (cachalot_testing.media)."""
TRACE_URL_TEMPLATE = "http://traces.test:16686/trace/{trace_id}"
"""The tracing UI the console links to (nothing answers there)."""
WATCHED = (
    *(publish_topic(p) for p in ("tiktok", "youtube", "instagram", "vk", "telegram")),
    POSTS_STATUS,
    PROPOSALS,
    NOTIFY,
)


def now() -> datetime:
    return datetime.now(UTC)


async def eventually(
    check: Callable[[], Any], *, timeout: float = 10.0, every: float = 0.05
) -> Any:
    """Poll an (async) check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(every)


@dataclass
class Seen:
    topic: str
    value: dict[str, Any]
    key: str
    received: datetime
    headers: dict[str, str] = field(default_factory=dict)


class Recorder:
    """Everything the queue publishes, as seen by an independent consumer."""

    def __init__(self, bootstrap: str, offset_reset: str = "latest") -> None:
        self._consumer = AIOKafkaConsumer(
            *WATCHED,
            bootstrap_servers=bootstrap,
            group_id=f"queue-tests-{uuid.uuid4().hex[:8]}",
            auto_offset_reset=offset_reset,
            enable_auto_commit=True,
            session_timeout_ms=2000,
            heartbeat_interval_ms=200,
            fetch_max_wait_ms=20,
        )
        self.seen: list[Seen] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._pump())
        # wait for the group assignment so nothing published from now on is missed
        await eventually(lambda: self._consumer.assignment(), timeout=30)

    async def _pump(self) -> None:
        async for message in self._consumer:
            self.seen.append(
                Seen(
                    topic=message.topic,
                    value=json.loads(message.value or b"{}"),
                    key=(message.key or b"").decode(),
                    received=now(),
                    headers={k: v.decode("utf-8", "replace") for k, v in message.headers or ()},
                )
            )

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

    def commands(self, target_id: Any, *, reconcile: bool | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if s.topic.startswith("posts.publish.")
            and s.value.get("target_id") == str(target_id)
            and (reconcile is None or s.value.get("reconcile") is reconcile)
        ]

    def statuses(self, target_id: Any) -> list[str]:
        return [
            s.value["status"]
            for s in self.seen
            if s.topic == POSTS_STATUS and s.value.get("target_id") == str(target_id)
        ]

    def notices(self, text: str) -> list[Seen]:
        return [s for s in self.seen if s.topic == NOTIFY and text in s.value.get("text", "")]

    def proposal_changes(self, proposal_id: Any) -> list[str]:
        """The ``change`` of each ``proposals.v1`` event of one proposal, in order."""
        return [
            s.value["change"]
            for s in self.seen
            if s.topic == PROPOSALS and s.value.get("proposal_id") == str(proposal_id)
        ]

    def answers(self, proposal_id: Any) -> list[Seen]:
        """The ``proposal.answered`` events of one proposal on ``notify.v1``."""
        return [
            s
            for s in self.seen
            if s.topic == NOTIFY
            and s.value.get("type") == "proposal.answered"
            and s.value.get("proposal_id") == str(proposal_id)
        ]


class Kafka:
    """A producer for the events other services would send."""

    def __init__(self, bootstrap: str, idempotence: bool) -> None:
        self._bootstrap = bootstrap
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=idempotence
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(
        self, topic: str, event: BaseModel, key: str, headers: dict[str, str] | None = None
    ) -> None:
        await self._producer.send_and_wait(
            topic,
            encode(event),
            key=key.encode(),
            headers=[(k, v.encode()) for k, v in (headers or {}).items()] or None,
        )

    async def raw(self, topic: str, value: bytes, key: str) -> None:
        await self._producer.send_and_wait(topic, value, key=key.encode())

    async def read_all(self, topic: str, timeout: float = 15.0) -> list[Any]:
        """Every record of ``topic`` so far (a throwaway consumer from the start)."""
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=self._bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        records: list[Any] = []
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                got = [r for part in batch.values() for r in part]
                records += got
                if records and not got:
                    break
        finally:
            await consumer.stop()
        return records


@dataclass
class QueueServer:
    runtime: Runtime
    base_url: str
    server: uvicorn.Server
    task: asyncio.Task[None]
    kafka: Kafka
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def stop(self) -> None:
        for client in self.clients:
            await client.aclose()
        self.server.should_exit = True
        await self.task

    def operator(
        self, operator_id: uuid.UUID | None = None, *, name: str | None = None
    ) -> httpx.AsyncClient:
        """An HTTP client carrying an operator's session (role ``operator``; ``name``: their
        Telegram name, as auth puts it in the session)."""
        token, _ = issue_session(
            client_id=operator_id or uuid.uuid4(),
            secret=SECRET,
            lifetime_s=3600,
            role="operator",
            name=name,
        )
        http = httpx.AsyncClient(base_url=self.base_url, cookies={COOKIE_NAME: token}, timeout=30.0)
        self.clients.append(http)
        return http

    def client(self, client_id: uuid.UUID | None = None) -> ApiClient:
        client_id = client_id or uuid.uuid4()
        token, session = issue_session(client_id=client_id, secret=SECRET, lifetime_s=3600)
        http = httpx.AsyncClient(base_url=self.base_url, cookies={COOKIE_NAME: token}, timeout=30.0)
        self.clients.append(http)
        return ApiClient(self, client_id, http, session)

    async def target(self, target_id: Any) -> Target:
        async with self.runtime.reader() as session:
            found = await session.get(Target, uuid.UUID(str(target_id)), populate_existing=True)
        assert found is not None
        return found

    async def result(
        self,
        post: dict[str, Any],
        index: int = 0,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> PublishResult:
        """Send a publisher's result for ``post``'s target ``index`` (current attempt)."""
        target = post["targets"][index]
        current = await self.target(target["id"])
        event = PublishResult(
            post_id=post["id"],
            target_id=target["id"],
            account_id=target["account_id"],
            platform=target["platform"],
            attempt=fields.pop("attempt", current.attempt),
            **fields,
        )
        await self.kafka.send(POSTS_RESULT, event, key=post["id"], headers=headers)
        return event


class ApiClient:
    """One signed-in client of the queue's API, with its connected accounts."""

    def __init__(
        self,
        server: QueueServer,
        client_id: uuid.UUID,
        http: httpx.AsyncClient,
        session: Session | None = None,
    ) -> None:
        self.server = server
        self.id = client_id
        self.http = http
        self.session = session

    async def account(self, platform: str, event: str = "connected", **extra: Any) -> uuid.UUID:
        account_id = extra.pop("account_id", None) or uuid.uuid4()
        await self.account_event(account_id, platform, event, **extra)
        return account_id

    async def account_event(
        self, account_id: uuid.UUID, platform: str, event: str, **extra: Any
    ) -> AccountChanged:
        message = AccountChanged(
            type=event,  # type: ignore[arg-type]
            account_id=account_id,
            client_id=self.id,
            platform=platform,  # type: ignore[arg-type]
            **extra,
        )
        await self.server.kafka.send(ACCOUNTS, message, key=str(account_id))

        async def applied() -> bool:
            async with self.server.runtime.reader() as session:
                row = await session.scalar(select(Account).where(Account.id == account_id))
            if row is not None and message.type == "updated":  # facts only, no new state
                facts = message.creator_info
                known = message.communities is None or row.communities == message.communities
                return known and (
                    facts is None or row.creator_info == facts.model_dump(mode="json")
                )
            return row is not None and row.changed_at >= message.occurred_at

        await eventually(applied, timeout=20)
        return message

    async def upload(self, data: bytes = VIDEO, **headers: str) -> dict[str, Any]:
        response = await self.http.post(
            "/api/v1/media",
            content=data,
            headers={"Content-Type": "video/mp4", **headers},
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def post(self, body: dict[str, Any], **headers: str) -> httpx.Response:
        return await self.http.post("/api/v1/posts", json=body, headers=headers)

    async def queue(
        self,
        *,
        youtube: uuid.UUID | None = None,
        tiktok: uuid.UUID | None = None,
        telegram: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Upload the fixture and queue it for the given accounts."""
        response = await self.post_raw(youtube=youtube, tiktok=tiktok, telegram=telegram, at=at)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def post_raw(
        self,
        *,
        youtube: uuid.UUID | None = None,
        tiktok: uuid.UUID | None = None,
        telegram: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> httpx.Response:
        """What :meth:`queue` sends, answered as it came (an upload, then ``POST /posts``)."""
        media = await self.upload()
        targets: list[dict[str, Any]] = []
        if youtube:
            targets.append({"account_id": str(youtube), "youtube": {"title": "A test video"}})
        if tiktok:
            targets.append(
                {
                    "account_id": str(tiktok),
                    "tiktok": {"privacy_level": "SELF_ONLY", "caption": "hello"},
                }
            )
        if telegram:
            targets.append({"account_id": str(telegram), "telegram": {"caption": "hello"}})
        body: dict[str, Any] = {"media_id": media["id"], "targets": targets}
        if at is not None:
            body["scheduled_at"] = at.isoformat()
        return await self.post(body)

    async def get(self, post_id: Any) -> dict[str, Any]:
        response = await self.http.get(f"/api/v1/posts/{post_id}")
        assert response.status_code == 200, response.text
        return dict(response.json())


def database_for(request: Any, root: Path) -> str:
    """The database URL a parametrised fixture asks for (``request.param``): SQLite in ``root``,
    or a new database on the session's PostgreSQL (the ``postgres`` fixture)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{root / 'queue.db'}"
    return str(request.getfixturevalue("postgres").create_database(f"q_{uuid.uuid4().hex[:12]}"))


@contextlib.asynccontextmanager
async def own_queue(
    request: Any,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: Any,
    name: str,
    **overrides: Any,
) -> AsyncIterator[QueueServer]:
    """A queue of a fixture's own (``request.param``: sqlite or postgres, :func:`database_for`)
    in a fresh ``queue-<name>-<param>`` folder, with ``overrides`` over the test settings;
    stopped with its producer on exit."""
    root = tmp_path_factory.mktemp(f"queue-{name}-{request.param}")
    url = database_for(request, root)
    server = await start_queue(url, kafka_bootstrap, kafka_idempotence, root / "media", **overrides)
    try:
        yield server
    finally:
        await server.stop()
        await server.kafka.stop()


async def start_queue(
    database_url: str,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    media_dir: Path,
    registry: Mapping[str, PlatformSpec] | None = None,
    **overrides: Any,
) -> QueueServer:
    """A queue on ``database_url`` with test settings (``overrides`` replace them) and,
    when given, its own platform ``registry``."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "kafka_bootstrap": kafka_bootstrap,
        "kafka_idempotence": kafka_idempotence,
        "metrics_interval_s": 0.2,
        "session_secret": SECRET,
        "grant_signing_key": GRANT_KEY.setting(),
        "media_dir": media_dir,
        "max_media_bytes": 1024 * 1024,
        "consumer_group": f"queue-{uuid.uuid4().hex[:8]}",
        "kafka_session_timeout_ms": 2000,
        "backoff_base_s": 0.4,
        "backoff_max_s": 2.0,
        "reconcile_after_s": 2.0,
        "max_reconciles": 3,
        "max_attempts": 3,
        # how long a refusal waits for an account event: every refusal of an unknown, foreign
        # or disconnected account waits it out in full. ApiClient.account_event waits until
        # the queue has applied the event, so no test needs a longer wait; the catch-up tests
        # (test_account_catch_up.py) send theirs late and set their own window
        "account_catch_up_s": 0.2,
        "environment": "test",
        "log_format": "text",
        "trace_url_template": TRACE_URL_TEMPLATE,
    }
    values.update(overrides)
    settings = QueueSettings(**values)
    app = create_app(settings, registry=registry)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), timeout=60)
    if task.done():
        task.result()
        raise RuntimeError("queue server stopped at start")
    kafka = Kafka(kafka_bootstrap, kafka_idempotence)
    await kafka.start()
    return QueueServer(app.state.runtime, f"http://127.0.0.1:{port}", server, task, kafka)


async def until_status(
    queue: QueueServer, post: dict[str, Any], status: str, index: int = 0, timeout: float = 20
) -> None:
    """Wait until ``post``'s target ``index`` has ``status`` in the queue's database."""

    async def reached() -> bool:
        return (await queue.target(post["targets"][index]["id"])).status == status

    await eventually(reached, timeout=timeout)


def at_offset(seconds: float) -> datetime:
    return now() + timedelta(seconds=seconds)
