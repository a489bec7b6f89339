"""Real components for publisher-instagram: Tansu, PostgreSQL, the sandbox, the process."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cachalot_testing.plugin import PostgresServer
from cachalot_testing.processes import ServiceProcess
from cachalot_testing.publisher import PublisherProcesses, start_sandbox
from cachalot_testing.publisher import publisher_env as base_env

from .harness import SERVICE, SERVICE_SECRET, Commands, LeaseServer, LinkServer, Results

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    process = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield process
    process.stop()


@pytest.fixture
def graph(sandbox: ServiceProcess) -> Iterator[httpx.Client]:
    """The sandbox's Instagram controls, reset around each test."""
    with httpx.Client(base_url=f"{sandbox.base_url}/sandbox/instagram/graph", timeout=10) as http:
        http.post("/config", json={"processing_delay_s": 0.2, "range_chunk_bytes": 100})
        yield http
        http.post(
            "/config",
            json={"processing_delay_s": 0.3, "quota_total": 50, "quota_duration_s": 86400},
        )


@pytest.fixture(scope="session")
def lease_server(sandbox: ServiceProcess) -> Iterator[LeaseServer]:
    server = LeaseServer(sandbox.base_url).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def link_server(media_dir: Path) -> Iterator[LinkServer]:
    server = LinkServer(media_dir).start()
    yield server
    server.stop()


@pytest.fixture
def media(media_dir: Path) -> Callable[[str], Path]:
    """A fresh copy of a fixture file in the media store, made distinct by a trailer."""

    def copy(name: str) -> Path:
        target = media_dir / f"{uuid.uuid4().hex}{Path(name).suffix}"
        shutil.copy(FIXTURES / name, target)
        with target.open("ab") as handle:  # JPEG and MP4 readers ignore trailing bytes
            handle.write(uuid.uuid4().bytes)
        return target

    return copy


@pytest.fixture(scope="module")
def database_url(postgres: PostgresServer) -> str:
    return postgres.create_database(f"pig_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="module")
def publisher(
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    sandbox: ServiceProcess,
    lease_server: LeaseServer,
    media_dir: Path,
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServiceProcess]:
    env = base_env(
        service=SERVICE,
        secret=SERVICE_SECRET,
        kafka_bootstrap=kafka_bootstrap,
        kafka_idempotence=kafka_idempotence,
        database_url=database_url,
        auth_url=lease_server.url,
        media_dir=media_dir,
        CACHALOT_INSTAGRAM_API_BASE=f"{sandbox.base_url}/instagram",
        CACHALOT_INSTAGRAM_POLL_INTERVAL_S="0.2",
        CACHALOT_INSTAGRAM_POLL_MAX_S="2",
    )
    processes = PublisherProcesses(
        "cachalot_publisher_instagram", env, tmp_path_factory.mktemp("publisher")
    )
    yield processes.start()
    processes.stop_all()


@pytest.fixture(scope="session")
async def results(kafka_bootstrap: str) -> AsyncIterator[Results]:
    collector = await Results(kafka_bootstrap).start()
    yield collector
    await collector.stop()


@pytest.fixture(scope="session")
async def commands(
    kafka_bootstrap: str, kafka_idempotence: bool, media_dir: Path, link_server: LinkServer
) -> AsyncIterator[Commands]:
    producer = await Commands(kafka_bootstrap, kafka_idempotence, media_dir, link_server).start()
    yield producer
    await producer.stop()
