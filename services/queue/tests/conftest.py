"""Fixtures for the queue's tests (helpers live in ``queue_support``)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from queue_support import QueueServer, Recorder, own_queue

from cachalot_testing.broker import TansuBroker


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A Tansu of the test's own, to kill and restart empty."""
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
async def recorder(kafka_bootstrap: str) -> AsyncIterator[Recorder]:
    recorder = Recorder(kafka_bootstrap)
    await recorder.start()
    yield recorder
    await recorder.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def queue(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
    recorder: Recorder,
) -> AsyncIterator[QueueServer]:
    """A running queue on SQLite and on PostgreSQL (each test runs on both)."""
    async with own_queue(
        request, kafka_bootstrap, kafka_idempotence, tmp_path_factory, "shared"
    ) as server:
        yield server
