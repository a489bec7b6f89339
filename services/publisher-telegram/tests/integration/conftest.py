"""Real components for publisher-telegram: Tansu, PostgreSQL, the sandbox, the process."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cachalot_testing.plugin import PostgresServer
from cachalot_testing.processes import ServiceProcess
from cachalot_testing.publisher import PublisherProcesses, start_sandbox
from cachalot_testing.publisher import publisher_env as base_env

from .harness import (
    BOT_TOKEN,
    BOT_USERNAME,
    CHANNEL_ID,
    OWNER,
    SERVICE,
    SERVICE_SECRET,
    AuthStandIn,
    Commands,
    Results,
)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    env = {"CACHALOT_TELEGRAM_BOT_TOKEN": BOT_TOKEN, "CACHALOT_TELEGRAM_BOT_USERNAME": BOT_USERNAME}
    process = start_sandbox(tmp_path_factory.mktemp("sandbox"), env)
    yield process
    process.stop()


@pytest.fixture
def telegram(sandbox: ServiceProcess) -> Iterator[httpx.Client]:
    """The sandbox's Telegram and Telegraph, reset, with our channel set up."""
    with httpx.Client(base_url=sandbox.base_url, timeout=30) as http:
        for path in (
            "/sandbox/telegram/messages",
            "/sandbox/telegram/faults",
            "/sandbox/telegram/delays",
            "/sandbox/telegram/channels",
            "/sandbox/telegraph",
        ):
            http.delete(path).raise_for_status()
        http.post(
            "/sandbox/telegram/channels",
            json={
                "id": CHANNEL_ID,
                "username": "cachalot_posts",
                "title": "Posts",
                "admins": OWNER,
            },
        ).raise_for_status()
        yield http


@pytest.fixture(scope="session")
def auth_stand_in() -> Iterator[AuthStandIn]:
    server = AuthStandIn().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def module_database(postgres: PostgresServer) -> str:
    return postgres.create_database(f"ptg_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="module")
def publisher_env(
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    sandbox: ServiceProcess,
    auth_stand_in: AuthStandIn,
    media_dir: Path,
    module_database: str,
) -> dict[str, str]:
    return base_env(
        service=SERVICE,
        secret=SERVICE_SECRET,
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=kafka_idempotence,
        database_url=module_database,
        auth_url=auth_stand_in.url,
        media_dir=media_dir,
        CACHALOT_TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        CACHALOT_TELEGRAM_BOT_USERNAME=BOT_USERNAME,
        CACHALOT_TELEGRAM_API_BASE=f"{sandbox.base_url}/telegram",
        CACHALOT_TELEGRAPH_API_BASE=f"{sandbox.base_url}/telegraph",
        CACHALOT_TELEGRAM_PERSON_CHECK_S="0",  # the person's right asked before every post
    )


@pytest.fixture(scope="module")
def start_publisher(
    publisher_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], ServiceProcess]]:
    """Starts publisher processes (each on its own port), stops them at the end."""
    processes = PublisherProcesses(
        "cachalot_publisher_telegram", publisher_env, tmp_path_factory.mktemp("publisher")
    )
    yield processes.start
    processes.stop_all()


@pytest.fixture(scope="module")
def publisher(start_publisher: Callable[[], ServiceProcess]) -> ServiceProcess:
    return start_publisher()


@pytest.fixture(scope="session")
async def results(kafka_bootstrap: str) -> AsyncIterator[Results]:
    collector = await Results(kafka_bootstrap).start()
    yield collector
    await collector.stop()


@pytest.fixture(scope="session")
async def commands(
    kafka_bootstrap: str, kafka_idempotence: bool, media_dir: Path
) -> AsyncIterator[Commands]:
    producer = await Commands(kafka_bootstrap, kafka_idempotence, media_dir).start()
    yield producer
    await producer.stop()


@pytest.fixture
def random_file(media_dir: Path) -> Callable[[int, str], Path]:
    def make(size: int, suffix: str = ".mp4") -> Path:
        path = media_dir / f"{uuid.uuid4().hex}{suffix}"
        path.write_bytes(os.urandom(size))
        return path

    return make
