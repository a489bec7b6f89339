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
from cachalot_testing.publisher import PublisherProcesses, start_sandbox
from cachalot_testing.publisher import publisher_env as base_env

from .harness import SERVICE, SERVICE_SECRET, Commands, LeaseServer, Results

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = start_sandbox(tmp_path_factory.mktemp("sandbox"))
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
    return base_env(
        service=SERVICE,
        secret=SERVICE_SECRET,
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=kafka_idempotence,
        database_url=module_database,
        auth_url=lease_server.url,
        media_dir=media_dir,
        CACHALOT_VK_API_BASE=f"{sandbox.base_url}/vk",
    )


@pytest.fixture(scope="module")
def start_publisher(
    publisher_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], ServiceProcess]]:
    processes = PublisherProcesses(
        "cachalot_publisher_vk", publisher_env, tmp_path_factory.mktemp("publisher-vk")
    )
    yield processes.start
    processes.stop_all()


@pytest.fixture(scope="module")
def publisher(start_publisher: Callable[[], ServiceProcess]) -> ServiceProcess:
    return start_publisher()


@pytest.fixture(scope="session")
async def results(kafka_bootstrap: str) -> AsyncIterator[Results]:
    collector = await Results(kafka_bootstrap, from_latest=True).start()
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
def make_file(media_dir: Path) -> Callable[..., Path]:
    def make(size: int, *, image: bool = False) -> Path:
        path = media_dir / f"{uuid.uuid4().hex}.{'png' if image else 'mp4'}"
        head = PNG_MAGIC if image else b""
        path.write_bytes(head + os.urandom(size - len(head)))
        return path

    return make
