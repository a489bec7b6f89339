"""Real components for publisher-tiktok: sandbox process, Tansu, PostgreSQL, a lease endpoint.

The auth service (another package) is stood in for by a tiny real HTTP lease
endpoint that verifies the publisher's service JWT and hands out tokens
minted from the sandbox, as auth would.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cachalot_common.events import MediaRef, PublishResult, PublishVideo, TikTokOptions
from cachalot_common.service_auth import ServiceAuthError, verify_service_token
from cachalot_common.topics import POSTS_RESULT, publish_topic
from cachalot_testing.plugin import PostgresServer
from cachalot_testing.ports import free_port, wait_for_port
from cachalot_testing.processes import ServiceProcess

SERVICE_SECRET = "test-publisher-tiktok-secret-0123456789"
FIXTURE_MP4 = Path(__file__).parent.parent / "fixtures" / "testsrc-1s.mp4"
MB = 1024 * 1024
STARTUP_TIMEOUT_S = 120.0  # a loaded two-core machine takes a while to import everything


@dataclass
class LeaseStub:
    """What auth's lease endpoint does, minus the OAuth: verify, mint, remember."""

    sandbox: str
    port: int = field(default_factory=free_port)
    tokens: dict[str, str] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    reauth: set[str] = field(default_factory=set)
    refusals: dict[str, str] = field(default_factory=dict)  # account → auth's 403 code
    issued: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.tokens.clear()
        self.calls.clear()
        self.reauth.clear()
        self.refusals.clear()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/internal/v1/accounts/{account_id}/lease")
        async def lease(account_id: str, request: Request) -> JSONResponse:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                verify_service_token(bearer, secrets={"publisher-tiktok": SERVICE_SECRET})
            except ServiceAuthError:
                return JSONResponse({"detail": "bad service token"}, status_code=401)
            body = await request.json()
            self.calls.append({"account_id": account_id, **body})
            if account_id in self.refusals:
                return JSONResponse(
                    {"code": self.refusals[account_id], "detail": "refused"}, status_code=403
                )
            if account_id in self.reauth:
                return JSONResponse(
                    {"code": "reauth_required", "detail": "reconnect"}, status_code=409
                )
            if body.get("force_refresh") or account_id not in self.tokens:
                async with httpx.AsyncClient() as client:
                    minted = await client.post(
                        f"{self.sandbox}/sandbox/tokens",
                        json={
                            "platform": "tiktok",
                            "subject": f"open-{account_id}",
                            "scopes": ["video.publish", "user.info.basic"],
                        },
                    )
                self.tokens[account_id] = minted.json()["access_token"]
                self.issued.append(self.tokens[account_id])
            return JSONResponse(
                {
                    "account_id": account_id,
                    "platform": "tiktok",
                    "access_token": self.tokens[account_id],
                    "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                    "scopes": ["video.publish"],
                    "platform_user_id": f"open-{account_id}",
                }
            )

        return app


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = ServiceProcess(
        "cachalot_sandbox", env={}, log_path=tmp_path_factory.mktemp("sbx") / "sandbox.log"
    ).start(timeout=STARTUP_TIMEOUT_S)
    yield process.base_url
    process.stop()


@pytest.fixture(scope="module")
def lease_stub(sandbox: str) -> Iterator[LeaseStub]:
    stub = LeaseStub(sandbox)
    server = uvicorn.Server(
        uvicorn.Config(stub.app(), host="127.0.0.1", port=stub.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(stub.port)
    yield stub
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def sbx(sandbox: str, lease_stub: LeaseStub) -> Iterator[httpx.Client]:
    """The sandbox's control API, reset for this test (rate limits as TikTok's)."""
    with httpx.Client(base_url=sandbox, timeout=30) as client:
        client.post("/sandbox/reset").raise_for_status()
        lease_stub.reset()
        yield client


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def publisher_env(
    sandbox: str,
    lease_stub: LeaseStub,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    postgres: PostgresServer,
    media_dir: Path,
) -> dict[str, str]:
    database = postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
    return {
        "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CACHALOT_KAFKA_IDEMPOTENCE": str(kafka_idempotence).lower(),
        "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "CACHALOT_DATABASE_URL": database,
        "CACHALOT_MEDIA_DIR": str(media_dir),
        "CACHALOT_TIKTOK_API_BASE": f"{sandbox}/tiktok",
        "CACHALOT_AUTH_URL": lease_stub.url,
        "CACHALOT_SERVICE_NAME": "publisher-tiktok",
        "CACHALOT_SERVICE_SECRET": SERVICE_SECRET,
        "CACHALOT_TIKTOK_CHUNK_SIZE": str(5 * MB),
        "CACHALOT_TIKTOK_STATUS_POLL_S": "0.2",
        # every chunk's progress report, however quick (the tests check them)
        "CACHALOT_PUBLISH_PROGRESS_INTERVAL_S": "0",
        "CACHALOT_ENVIRONMENT": "test",
        "CACHALOT_LOG_LEVEL": "INFO",
    }


@pytest.fixture(scope="module")
def publisher(
    publisher_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory, lease_stub: LeaseStub
) -> Iterator[ServiceProcess]:
    """One publisher process for the module (tests that kill it start it again)."""
    asyncio.run(ensure_topic(publisher_env["CACHALOT_KAFKA_BOOTSTRAP"], publish_topic("tiktok")))
    log_path = tmp_path_factory.mktemp("publisher") / "publisher.log"
    process = ServiceProcess(
        "cachalot_publisher_tiktok", env=publisher_env, log_path=log_path
    ).start(timeout=STARTUP_TIMEOUT_S)
    process.wait_healthy(path="/readyz", timeout=STARTUP_TIMEOUT_S)
    yield process
    process.stop()
    output = process.output()
    leaked = [token for token in lease_stub.issued if token in output]
    assert not leaked, "an access token reached the publisher's log"
    assert "upload_token=" not in output or "upload_token=***" in output


async def ensure_topic(bootstrap: str, topic: str, partitions: int = 4) -> None:
    """Create the command topic with several partitions, as deployment would, so
    replicas have something to share (an auto-created topic may get only one)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


async def partition_count(bootstrap: str, topic: str) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        return len(await producer.partitions_for(topic))
    finally:
        await producer.stop()


@pytest.fixture
def command_partitions(publisher_env: dict[str, str]) -> int:
    """How many partitions the command topic has (what replicas can share)."""
    bootstrap = publisher_env["CACHALOT_KAFKA_BOOTSTRAP"]
    return asyncio.run(partition_count(bootstrap, publish_topic("tiktok")))


class Kafka:
    """Send commands like the queue does; watch results like the queue does."""

    def __init__(self, bootstrap: str, idempotence: bool) -> None:
        self.bootstrap = bootstrap
        self.idempotence = idempotence
        self.results: list[PublishResult] = []
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=self.idempotence
        )
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            POSTS_RESULT,
            bootstrap_servers=self.bootstrap,
            group_id=f"test-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="latest",
        )
        await self._consumer.start()
        await self._wait_assigned()
        self._task = asyncio.create_task(self._collect())

    async def _wait_assigned(self) -> None:
        assert self._consumer is not None
        for _ in range(200):
            if self._consumer.assignment():
                return
            await asyncio.sleep(0.05)
        raise TimeoutError("result consumer got no partitions")

    async def _collect(self) -> None:
        assert self._consumer is not None
        async for message in self._consumer:
            self.results.append(PublishResult.model_validate_json(message.value))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def send(self, command: PublishVideo) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(
            publish_topic("tiktok"),
            command.model_dump_json().encode(),
            key=str(command.account_id).encode(),
        )

    async def final(
        self, target_id: uuid.UUID, attempt: int = 1, timeout: float = 60
    ) -> PublishResult:
        """The first non-progress result of a target's attempt."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for result in self.results:
                if (
                    result.target_id == target_id
                    and result.attempt == attempt
                    and result.type != "progress"
                ):
                    return result
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no final result for {target_id} attempt {attempt}")

    def progress(self, target_id: uuid.UUID) -> list[int]:
        return [
            r.bytes_sent or 0
            for r in self.results
            if r.target_id == target_id and r.type == "progress"
        ]


@pytest.fixture
async def kafka(kafka_bootstrap: str, kafka_idempotence: bool) -> AsyncIterator[Kafka]:
    client = Kafka(kafka_bootstrap, kafka_idempotence)
    await client.start()
    yield client
    await client.stop()


@dataclass
class Video:
    relative: str
    path: Path
    size: int
    sha256: str

    def command(
        self,
        *,
        attempt: int = 1,
        target_id: uuid.UUID | None = None,
        account_id: uuid.UUID | None = None,
        **options: Any,
    ) -> PublishVideo:
        target_id = target_id or uuid.uuid4()
        return PublishVideo(
            post_id=uuid.uuid4(),
            target_id=target_id,
            client_id=uuid.uuid4(),
            account_id=account_id or uuid.uuid4(),
            platform="tiktok",
            attempt=attempt,
            media=MediaRef(
                media_id=uuid.uuid4(),
                path=self.relative,
                size=self.size,
                sha256=self.sha256,
                content_type="video/mp4",
                duration_sec=1.0,
            ),
            options=TikTokOptions(caption="Hello from CACHALOT", **options),
            grant=f"grant-of-{target_id}-attempt-{attempt}",  # the stub only records it
        )


def store_video(media_dir: Path, source: Path | None = None, *, size: int = 0) -> Video:
    """Put a video in the media store: the fixture MP4, or ``size`` bytes of it repeated."""
    relative = f"{uuid.uuid4().hex}.mp4"
    path = media_dir / relative
    if source is not None:
        shutil.copyfile(source, path)
    else:
        pattern = FIXTURE_MP4.read_bytes()
        with path.open("wb") as out:
            written = 0
            while written < size:
                piece = pattern[: size - written]
                out.write(piece)
                written += len(piece)
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(MB), b""):
            digest.update(block)
    return Video(relative, path, path.stat().st_size, digest.hexdigest())


@pytest.fixture
def small_video(media_dir: Path) -> Video:
    return store_video(media_dir, FIXTURE_MP4)


@pytest.fixture
def video_12mb(media_dir: Path) -> Video:
    return store_video(media_dir, size=12 * MB + 4321)
