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

from .harness import (
    BOT_TOKEN,
    BOT_USERNAME,
    CHANNEL_ID,
    SERVICE_SECRET,
    AuthStandIn,
    Commands,
    Results,
)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    env = {"CACHALOT_TELEGRAM_BOT_TOKEN": BOT_TOKEN, "CACHALOT_TELEGRAM_BOT_USERNAME": BOT_USERNAME}
    process = ServiceProcess("cachalot_sandbox", env=env, log_path=log).start(timeout=120)
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
            json={"id": CHANNEL_ID, "username": "cachalot_posts", "title": "Posts"},
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
    return {
        "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CACHALOT_KAFKA_IDEMPOTENCE": str(kafka_idempotence).lower(),
        "CACHALOT_DATABASE_URL": module_database,
        "CACHALOT_AUTH_URL": auth_stand_in.url,
        "CACHALOT_SERVICE_NAME": "publisher-telegram",
        "CACHALOT_SERVICE_SECRET": SERVICE_SECRET,
        "CACHALOT_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "CACHALOT_TELEGRAM_BOT_USERNAME": BOT_USERNAME,
        "CACHALOT_TELEGRAM_API_BASE": f"{sandbox.base_url}/telegram",
        "CACHALOT_TELEGRAPH_API_BASE": f"{sandbox.base_url}/telegraph",
        "CACHALOT_MEDIA_DIR": str(media_dir),
        "CACHALOT_PUBLISH_PROGRESS_INTERVAL_S": "0",
        "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "CACHALOT_LOG_LEVEL": "INFO",
        "CACHALOT_ENVIRONMENT": "test",
    }


@pytest.fixture(scope="module")
def start_publisher(
    publisher_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], ServiceProcess]]:
    """Starts publisher processes (each on its own port), stops them at the end."""
    started: list[ServiceProcess] = []
    logs = tmp_path_factory.mktemp("publisher")

    def start() -> ServiceProcess:
        process = ServiceProcess(
            "cachalot_publisher_telegram",
            env=publisher_env,
            log_path=logs / f"publisher-{len(started)}.log",
        )
        started.append(process)
        process.start(timeout=180)
        process.wait_healthy(path="/readyz", timeout=60)
        return process

    yield start
    for process in started:
        process.stop()


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
