"""Shared fixtures: the sandbox Telegram (in memory, or a real process over real HTTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cachalot_sandbox import telegram as sandbox_telegram
from cachalot_sandbox.main import create_app as create_sandbox_app
from cachalot_sandbox.settings import SandboxSettings
from cachalot_testing.processes import ServiceProcess

# Distinctive, so a leak is easy to grep for; registered with the redactor by the app.
BOT_TOKEN = "918273645:AAnotifierTESTtokenNEVERinLOGS_12345"
OPERATOR_CHAT = "424242"


@pytest.fixture(scope="session")
def sandbox_app() -> FastAPI:
    return create_sandbox_app(SandboxSettings(telegram_bot_token=BOT_TOKEN))  # type: ignore[arg-type]


@pytest.fixture
def sandbox_reset() -> Iterator[None]:
    sandbox_telegram.reset()
    yield
    sandbox_telegram.reset()


class SandboxTelegram:
    """The sandbox Telegram's controls, and an HTTP client that reaches its Bot API."""

    def __init__(self, http: httpx.AsyncClient, operator_chat: str = OPERATOR_CHAT) -> None:
        self.http = http
        self.operator_chat = operator_chat

    async def messages(self, chat_id: str | None = None) -> list[Any]:
        params = {"chat_id": chat_id or self.operator_chat}
        response = await self.http.get("/sandbox/telegram/messages", params=params)
        return list(response.json()["messages"])

    async def send_calls(self) -> int:
        calls = (await self.http.get("/sandbox/telegram/calls")).json()["calls"]
        return int(calls.get("sendMessage", 0))

    async def queue_faults(self, *faults: dict[str, Any]) -> None:
        body = {"responses": list(faults)}
        response = await self.http.post("/sandbox/telegram/faults", json=body)
        assert response.status_code == 201

    async def migrate(self, group: str, supergroup: int) -> None:
        body = {"migrate_to_chat_id": supergroup}
        response = await self.http.put(f"/sandbox/telegram/migrations/{group}", json=body)
        assert response.status_code == 200

    async def block(self, chat_id: str) -> None:
        assert (await self.http.put(f"/sandbox/telegram/blocked/{chat_id}")).status_code == 200

    async def unblock(self, chat_id: str) -> None:
        assert (await self.http.delete(f"/sandbox/telegram/blocked/{chat_id}")).status_code == 200

    async def slow_down(self, seconds: float) -> None:
        body = {"send_delay_s": seconds}
        response = await self.http.put("/sandbox/telegram/latency", json=body)
        assert response.status_code == 200

    async def clear(self) -> None:
        await self.http.delete("/sandbox/telegram/messages")
        await self.http.delete("/sandbox/telegram/faults")


@pytest.fixture(scope="session")
def bot_token() -> str:
    return BOT_TOKEN


@pytest.fixture(scope="session")
def operator_chat() -> str:
    return OPERATOR_CHAT


@pytest.fixture
async def sandbox(sandbox_app: FastAPI, sandbox_reset: None) -> AsyncIterator[SandboxTelegram]:
    """The in-memory sandbox (Bot API and controls), fresh state."""
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield SandboxTelegram(client)


@pytest.fixture(scope="session")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """The sandbox as its own process, for what needs real sockets (timeouts)."""
    logs = tmp_path_factory.mktemp("sandbox-http")
    process = ServiceProcess(
        "cachalot_sandbox",
        env={"CACHALOT_TELEGRAM_BOT_TOKEN": BOT_TOKEN},
        log_path=logs / "sandbox.log",
    ).start(timeout=60)
    yield process
    process.stop()


@pytest.fixture
async def sandbox_http(sandbox_process: ServiceProcess) -> AsyncIterator[SandboxTelegram]:
    """The sandbox process's controls, reset before and after the test."""
    async with httpx.AsyncClient(base_url=sandbox_process.base_url, timeout=10) as client:
        await client.post("/sandbox/reset")
        yield SandboxTelegram(client)
        await client.post("/sandbox/reset")
