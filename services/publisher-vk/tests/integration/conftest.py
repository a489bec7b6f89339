"""Real components for publisher-vk: Tansu, PostgreSQL, the sandbox, the process."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cachalot_testing.plugin import PostgresServer
from cachalot_testing.processes import ServiceProcess

from .harness import SERVICE_SECRET, Commands, LeaseServer, Results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    log = tmp_path_factory.mktemp("sandbox") / "sandbox.log"
    process = ServiceProcess("cachalot_sandbox", env={}, log_path=log).start(timeout=120)
    yield process
    process.stop()


@pytest.fixture
def vk(sandbox: ServiceProcess) -> Iterator[httpx.Client]:
    """The sandbox's VK controls, reset before each test."""
    with httpx.Client(base_url=f"{sandbox.base_url}/sandbox/vk", timeout=10) as client:
        client.post("/reset").raise_for_status()
        yield client


@pytest.fixture(scope="session")
def lease_server(sandbox: ServiceProcess) -> Iterator[LeaseServer]:
    server = LeaseServer(sandbox.base_url).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def module_database(postgres: PostgresServer) -> str:
    return postgres.create_database(f"pvk_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="module")
def publisher_env(
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    sandbox: ServiceProcess,
    lease_server: LeaseServer,
    media_dir: Path,
    module_database: str,
) -> dict[str, str]:
    return {
        "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CACHALOT_KAFKA_IDEMPOTENCE": str(kafka_idempotence).lower(),
        "CACHALOT_DATABASE_URL": module_database,
        "CACHALOT_AUTH_URL": lease_server.url,
        "CACHALOT_SERVICE_NAME": "publisher-vk",
        "CACHALOT_SERVICE_SECRET": SERVICE_SECRET,
        "CACHALOT_VK_API_BASE": f"{sandbox.base_url}/vk",
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
    started: list[ServiceProcess] = []
    logs = tmp_path_factory.mktemp("publisher-vk")

    def start() -> ServiceProcess:
        process = ServiceProcess(
            "cachalot_publisher_vk", env=publisher_env, log_path=logs / f"p-{len(started)}.log"
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
async def commands(kafka_bootstrap: str, media_dir: Path) -> AsyncIterator[Commands]:
    producer = await Commands(kafka_bootstrap, media_dir).start()
    yield producer
    await producer.stop()


@pytest.fixture
def make_file(media_dir: Path) -> Callable[..., Path]:
    def make(size: int, *, image: bool = False) -> Path:
        path = media_dir / f"{uuid.uuid4().hex}.{'png' if image else 'mp4'}"
        head = PNG_MAGIC if image else b""
        path.write_bytes(head + os.urandom(size - len(head)))
        return path

    return make
