"""Every service declares what it waits out with one helper (``declared_dependencies``).

Its outbox relay and the services it calls are reported under ``dependencies``
of ``/readyz`` (200, ``degraded`` when one fails), never as a 503: a real HTTP
server stands in for auth, a closed port for a service that is away, and a
real :class:`OutboxRelay` runs over a source in memory whose broker refuses
and then accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from cachalot_common.app import create_service_app
from cachalot_common.health import declared_dependencies
from cachalot_common.outbox import Batch, OutboxRelay, Outgoing
from cachalot_common.settings import ServiceSettings
from cachalot_common.wakeup import Wakeup


class _Alive(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def alive_service() -> Iterator[str]:
    """A real HTTP server answering ``GET /healthz`` 200; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Alive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Events:
    """An outbox in memory: one event, waiting until the broker takes it."""

    def __init__(self) -> None:
        self.waiting = [Outgoing("t.v1", "k", b"{}")]

    @contextlib.asynccontextmanager
    async def batch(self, limit: int) -> AsyncIterator[Batch]:
        taken = self.waiting[:limit]

        async def acknowledge() -> None:
            del self.waiting[: len(taken)]

        yield Batch(taken, acknowledge)

    async def wait(self, wake: Wakeup, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def close(self) -> None:
        pass


async def _ready(app: object) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/readyz")


async def test_a_service_that_answers_is_ok_and_one_that_is_away_leaves_readiness_degraded(
    alive_service: str,
) -> None:
    app = create_service_app(
        title="t",
        settings=ServiceSettings(),
        dependencies=declared_dependencies(
            services={"auth": alive_service, "queue": f"http://127.0.0.1:{_closed_port()}"}
        ),
    )
    ready = await _ready(app)
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "degraded",
        "checks": {},
        "dependencies": {"auth": "ok", "queue": "failing"},
    }


async def test_a_relay_whose_broker_refuses_is_failing_until_it_publishes_again() -> None:
    refusing = True
    sent: list[str] = []

    async def publish(topic: str, key: str, payload: bytes) -> None:
        if refusing:
            raise ConnectionError("broker away")
        sent.append(topic)

    relay = OutboxRelay(_Events(), publish, first_backoff_s=0.01, max_backoff_s=0.05)
    app = create_service_app(
        title="t",
        settings=ServiceSettings(),
        dependencies=declared_dependencies(outbox=lambda: relay),
    )
    running = asyncio.create_task(relay.run())
    try:
        while relay.health().failures == 0:
            await asyncio.sleep(0.01)
        degraded = await _ready(app)
        assert degraded.status_code == 200
        assert degraded.json()["status"] == "degraded"
        assert degraded.json()["dependencies"] == {"relay": "failing"}

        refusing = False
        while not sent:
            await asyncio.sleep(0.01)
        ready = await _ready(app)
        assert ready.json()["status"] == "ready"
        assert ready.json()["dependencies"] == {"relay": "ok"}
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


async def test_a_process_that_runs_no_relay_reports_its_relay_failing() -> None:
    app = create_service_app(
        title="t",
        settings=ServiceSettings(),
        dependencies=declared_dependencies(outbox=lambda: None),
    )
    assert (await _ready(app)).json()["dependencies"] == {"relay": "failing"}


def test_a_dependency_named_twice_is_refused() -> None:
    async def own() -> bool:
        return True

    with pytest.raises(ValueError, match="'relay' declared twice"):
        declared_dependencies(outbox=lambda: None, own={"relay": own})
