"""Shared fixtures: settings in a temp dir, a recording publisher, a real HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from cachalot_common.events import ContactSubmitted
from cachalot_common.topics import CONTACT_SUBMITTED
from cachalot_contact.main import create_app
from cachalot_contact.settings import ContactSettings
from cachalot_testing.ports import free_port


class RecordingPublisher:
    """An event sink standing in for Kafka; can fail its first ``failures`` publishes.

    It decodes each message as a consumer would (``ContactSubmitted`` from the
    value) and checks the key is the event id, so tests see the wire form.
    """

    def __init__(self, failures: int = 0) -> None:
        self.events: list[ContactSubmitted] = []
        self.failures = failures
        self.attempts = 0
        self.published = asyncio.Event()

    async def __call__(self, topic: str, key: str, payload: bytes) -> None:
        """A ``cachalot_common.outbox.Publish``: one event, acknowledged or raising."""
        self.attempts += 1
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("broker unreachable")
        assert topic == CONTACT_SUBMITTED
        event = ContactSubmitted.model_validate_json(payload)
        assert key == str(event.event_id), "key != event id"
        self.events.append(event)
        self.published.set()

    async def wait_for(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.events) < count:
                self.published.clear()
                await self.published.wait()


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., ContactSettings]:
    def build(**overrides: Any) -> ContactSettings:
        values: dict[str, Any] = {
            "contact_log_dir": tmp_path / "contact",
            "contact_rate_limits": "1000/minute",
            "kafka_bootstrap": "127.0.0.1:1",
            "log_format": "text",
        }
        values.update(overrides)
        return ContactSettings(**values)

    return build


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@contextlib.asynccontextmanager
async def serve_http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run ``app`` under uvicorn on a free port; yield a client for it."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=False,  # as cachalot_common.app.serve runs it
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped during start-up")
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def serve() -> Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """``async with serve(settings, publisher=...) as client``: the app over real HTTP."""

    def start(
        settings: ContactSettings, **overrides: Any
    ) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
        return serve_http(create_app(settings, **overrides))

    return start


def valid_form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "name": "Ada Lovelace",
        "contact": "@ada_lovelace",
        "category": "video_production",
        "message": "Please call me about a video series.",
    }
    form.update(overrides)
    return form


@pytest.fixture
def form() -> Callable[..., dict[str, Any]]:
    return valid_form


@pytest.fixture
def failing_publisher() -> Callable[[int], RecordingPublisher]:
    """``failing_publisher(n)``: a publisher whose first ``n`` publishes fail."""
    return RecordingPublisher


@pytest.fixture(scope="module")
async def shared_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[httpx.AsyncClient]:
    """One server for many requests that store nothing (bad input): saves start-ups."""
    settings = ContactSettings(
        contact_log_dir=tmp_path_factory.mktemp("contact"),
        contact_rate_limits="100000/minute",
        kafka_bootstrap="127.0.0.1:1",
    )
    async with serve_http(create_app(settings, publisher=RecordingPublisher())) as client:
        yield client
