"""Pytest plugin (entry point ``cachalot``): session-wide broker and database.

* ``kafka_bootstrap``: a Tansu broker started once per test session, or
  Apache Kafka via testcontainers when ``CACHALOT_TEST_CONTAINERS=1`` and a
  Docker engine is present;
* ``postgres``: a private PostgreSQL cluster (initdb/pg_ctl), or a
  testcontainers PostgreSQL likewise; ``postgres_database`` gives each test a
  fresh database URL;
* ``tansu``: the broker object itself, for tests that restart it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from cachalot_testing.broker import TansuBroker
from cachalot_testing.postgres import PostgresCluster


def use_containers() -> bool:
    return os.environ.get("CACHALOT_TEST_CONTAINERS") == "1"


class PostgresServer(Protocol):
    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str: ...
    def create_database(self, name: str) -> str: ...


class _ContainerPostgres:
    def __init__(self) -> None:
        from testcontainers.postgres import PostgresContainer

        self.container = PostgresContainer("postgres:16-alpine", driver="asyncpg").start()

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        base = self.container.get_connection_url()
        prefix, _, _ = base.rpartition("/")
        return f"{prefix}/{database}".replace("postgresql+asyncpg", driver)

    def create_database(self, name: str) -> str:
        self.container.exec(["createdb", "-U", self.container.username, name])
        return self.url(name)

    def stop(self) -> None:
        self.container.stop()


@pytest.fixture(scope="session")
def tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """A Tansu broker for this session (tests may restart it)."""
    broker = TansuBroker(log_path=tmp_path_factory.mktemp("tansu") / "tansu.log").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """Bootstrap servers of a real Kafka-protocol broker."""
    if use_containers():
        from testcontainers.kafka import KafkaContainer

        container = KafkaContainer().with_kraft().start()
        yield container.get_bootstrap_server()
        container.stop()
        return
    broker: TansuBroker = request.getfixturevalue("tansu")
    yield broker.bootstrap


@pytest.fixture(scope="session")
def kafka_idempotence() -> bool:
    """Apache Kafka takes idempotent producers; Tansu rejects them."""
    return use_containers()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server for this session."""
    if use_containers():
        server = _ContainerPostgres()
        yield server
        server.stop()
        return
    cluster = PostgresCluster().start()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_database(postgres: PostgresServer) -> str:
    """A fresh, empty database (asyncpg URL) for one test."""
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def service_log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
