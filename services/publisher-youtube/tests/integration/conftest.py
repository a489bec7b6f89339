"""Real components for publisher-youtube: Tansu, PostgreSQL, the sandbox, the process."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from cachalot_testing.plugin import PostgresServer
from cachalot_testing.processes import ServiceProcess
from cachalot_testing.publisher import PublisherProcesses, start_sandbox
from cachalot_testing.publisher import publisher_env as base_env

from .harness import SERVICE, SERVICE_SECRET, Commands, LeaseServer, Results

CHUNK = 256 * 1024


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield process
    process.stop()


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
    return postgres.create_database(f"pyt_{uuid.uuid4().hex[:12]}")


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
        CACHALOT_YOUTUBE_API_BASE=f"{sandbox.base_url}/youtube",
        CACHALOT_YOUTUBE_CHUNK_BYTES=str(CHUNK),
        CACHALOT_YOUTUBE_BACKOFF_INITIAL_S="0.05",
        CACHALOT_YOUTUBE_BACKOFF_MAX_S="0.2",
    )


@pytest.fixture(scope="module")
def start_publisher(
    publisher_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], ServiceProcess]]:
    """Starts publisher processes (each on its own port), stops them at the end."""
    processes = PublisherProcesses(
        "cachalot_publisher_youtube", publisher_env, tmp_path_factory.mktemp("publisher")
    )
    yield processes.start
    processes.stop_all()


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
def random_video(media_dir: Path) -> Callable[[int], Path]:
    def make(size: int) -> Path:
        path = media_dir / f"{uuid.uuid4().hex}.mp4"
        path.write_bytes(os.urandom(size))
        return path

    return make
