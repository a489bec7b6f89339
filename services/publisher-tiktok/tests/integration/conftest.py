"""Real components for publisher-tiktok: sandbox process, Tansu, PostgreSQL, a lease endpoint.

The auth service (another package) is stood in for by a tiny real HTTP lease
endpoint that verifies the publisher's service JWT and hands out tokens
minted from the sandbox, as auth would.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from cachalot_common.events import MediaRef, PublishPost, TikTokOptions
from cachalot_common.topics import publish_topic
from cachalot_testing.plugin import PostgresServer
from cachalot_testing.processes import ServiceProcess
from cachalot_testing.publisher import Commands, LeaseStandIn, Results, start_sandbox
from cachalot_testing.publisher import publisher_env as base_env

SERVICE = "publisher-tiktok"
SERVICE_SECRET = "test-publisher-tiktok-secret-0123456789"
FIXTURE_MP4 = Path(__file__).parent.parent / "fixtures" / "testsrc-1s.mp4"
MB = 1024 * 1024
STARTUP_TIMEOUT_S = 120.0  # a loaded two-core machine takes a while to import everything


class LeaseStub(LeaseStandIn):
    """What auth's lease endpoint does, minus the OAuth: verify, mint, remember."""

    def __init__(self, sandbox: str) -> None:
        super().__init__(
            sandbox,
            service=SERVICE,
            secret=SERVICE_SECRET,
            platform="tiktok",
            scopes=["video.publish", "user.info.basic"],
            subject=lambda account_id: f"open-{account_id}",
        )

    async def lease_body(self, account_id: str, body: dict[str, Any]) -> dict[str, Any] | Any:
        lease = await super().lease_body(account_id, body)
        return {**lease, "scopes": ["video.publish"]} if isinstance(lease, dict) else lease


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = start_sandbox(tmp_path_factory.mktemp("sbx"))
    yield process.base_url
    process.stop()


@pytest.fixture(scope="module")
def lease_stub(sandbox: str) -> Iterator[LeaseStub]:
    stub = LeaseStub(sandbox).start()
    yield stub
    stub.stop()


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
    return base_env(
        service=SERVICE,
        secret=SERVICE_SECRET,
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=kafka_idempotence,
        database_url=postgres.create_database(f"t_{uuid.uuid4().hex[:12]}"),
        auth_url=lease_stub.url,
        media_dir=media_dir,
        CACHALOT_TIKTOK_API_BASE=f"{sandbox}/tiktok",
        CACHALOT_TIKTOK_CHUNK_SIZE=str(5 * MB),
        CACHALOT_TIKTOK_STATUS_POLL_S="0.2",
    )


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


class Kafka(Results):
    """Send commands like the queue does; watch results like the queue does."""

    def __init__(self, bootstrap: str, idempotence: bool, media_dir: Path) -> None:
        super().__init__(bootstrap, from_latest=True)
        self.results = self.seen
        self.commands = Commands(bootstrap, idempotence, media_dir)

    async def start(self) -> Kafka:
        await self.commands.start()
        await super().start()
        return self

    async def stop(self) -> None:
        await super().stop()
        await self.commands.stop()

    async def send(self, command: PublishPost) -> None:
        await self.commands.send(command)


@pytest.fixture
async def kafka(
    kafka_bootstrap: str, kafka_idempotence: bool, media_dir: Path
) -> AsyncIterator[Kafka]:
    client = await Kafka(kafka_bootstrap, kafka_idempotence, media_dir).start()
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
    ) -> PublishPost:
        target_id = target_id or uuid.uuid4()
        return PublishPost(
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
            options=TikTokOptions(
                **{"caption": "Hello from CACHALOT", "privacy_level": "SELF_ONLY", **options}
            ),
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
