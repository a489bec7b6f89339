"""Test harness: a lease endpoint handing out sandbox VK tokens, results and commands.

The lease endpoint speaks auth's contract (``cachalot_common.leases``) over
real HTTP, so the publisher's real ``LeaseClient`` is exercised; VK user
tokens are minted by the sandbox (``/sandbox/tokens``) for the account's VK
user id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cachalot_common.events import Article, MediaRef, PublishPost, PublishResult, VKOptions
from cachalot_common.service_auth import ServiceAuthError, verify_service_token
from cachalot_common.topics import POSTS_RESULT, publish_topic
from cachalot_testing.ports import free_port

SERVICE = "publisher-vk"
SERVICE_SECRET = "test-publisher-vk-secret-0123456789abcdef"
SCOPES = ["vkid.personal_info", "wall", "video", "photos", "groups"]


def vk_user_of(account_id: uuid.UUID | str) -> int:
    return 100_000 + uuid.UUID(str(account_id)).int % 1_000_000


class LeaseServer:
    """A stand-in for auth's lease endpoint, over real HTTP, in a thread."""

    def __init__(self, sandbox_url: str) -> None:
        self.sandbox_url = sandbox_url
        self.port = free_port()
        self.scopes: dict[str, list[str]] = {}
        self.force_refreshes = 0
        self._current: dict[str, str] = {}
        self._server: uvicorn.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _mint(self, account_id: str) -> str:
        response = httpx.post(
            f"{self.sandbox_url}/sandbox/tokens",
            json={
                "platform": "vk",
                "subject": str(vk_user_of(account_id)),
                "scopes": self.scopes.get(account_id, SCOPES),
            },
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    def expire(self, account_id: uuid.UUID) -> None:
        httpx.post(
            f"{self.sandbox_url}/sandbox/tokens/expire",
            json={"platform": "vk", "subject": str(vk_user_of(account_id))},
        ).raise_for_status()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/internal/v1/accounts/{account_id}/lease")
        async def lease(account_id: str, request: Request) -> JSONResponse:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                verify_service_token(bearer, secrets={SERVICE: SERVICE_SECRET})
            except ServiceAuthError as error:
                return JSONResponse({"detail": str(error)}, status_code=401)
            body = await request.json()
            if body.get("force_refresh"):
                self.force_refreshes += 1
            if body.get("force_refresh") or account_id not in self._current:
                self._current[account_id] = await asyncio.to_thread(self._mint, account_id)
            return JSONResponse(
                {
                    "account_id": account_id,
                    "platform": "vk",
                    "access_token": self._current[account_id],
                    "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                    "scopes": self.scopes.get(account_id, SCOPES),
                    "platform_user_id": str(vk_user_of(account_id)),
                }
            )

        return app

    def start(self) -> LeaseServer:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("lease server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True


class Results:
    """Collects every ``PublishResult`` on ``posts.result.v1``."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.seen: list[PublishResult] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Results:
        self._consumer = AIOKafkaConsumer(
            POSTS_RESULT,
            bootstrap_servers=self.bootstrap,
            group_id=f"vk-results-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="latest",
        )
        await self._consumer.start()
        while not self._consumer.assignment():
            await asyncio.sleep(0.05)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        assert self._consumer is not None
        async for message in self._consumer:
            with contextlib.suppress(ValueError):
                self.seen.append(PublishResult.model_validate_json(message.value))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    def finals(self, target_id: uuid.UUID) -> list[PublishResult]:
        return [r for r in self.seen if r.target_id == target_id and r.type != "progress"]

    async def final(self, target_id: uuid.UUID, timeout: float = 30.0) -> PublishResult:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.finals(target_id):
                return found[0]
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no final result for {target_id}")


class Commands:
    """Puts ``PublishPost`` commands on ``posts.publish.vk.v1``, as the queue does."""

    def __init__(self, bootstrap: str, media_dir: Path) -> None:
        self.bootstrap = bootstrap
        self.media_dir = media_dir
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> Commands:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
        await self._producer.start()
        return self

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    def ref(self, path: Path, content_type: str) -> MediaRef:
        return MediaRef(
            media_id=uuid.uuid4(),
            path=str(path.relative_to(self.media_dir)),
            size=path.stat().st_size,
            sha256=sha256_of(path),
            content_type=content_type,  # type: ignore[arg-type]
        )

    def command(
        self,
        *,
        account_id: uuid.UUID | None = None,
        video: Path | None = None,
        images: list[Path] | None = None,
        article: tuple[str, str, Path | None] | None = None,
        **options: Any,
    ) -> PublishPost:
        content: dict[str, Any] = {}
        if video is not None:
            content = {"kind": "video", "media": self.ref(video, "video/mp4")}
        elif images:
            content = {"kind": "photo", "images": tuple(self.ref(p, "image/png") for p in images)}
        elif article is not None:
            title, body, cover = article
            cover_ref = self.ref(cover, "image/png") if cover is not None else None
            content = {
                "kind": "article",
                "article": Article(title=title, body_html=body, cover=cover_ref),
            }
        else:  # a text-only post: an article without a cover
            content = {"kind": "article", "article": Article(title="T", body_html="<p>x</p>")}
        return PublishPost(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            account_id=account_id or uuid.uuid4(),
            platform="vk",
            attempt=1,
            options=VKOptions(**options),
            grant=f"grant-{uuid.uuid4().hex}",
            **content,
        )

    async def send(self, command: PublishPost) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(
            publish_topic("vk"),
            command.model_dump_json().encode(),
            key=str(command.account_id).encode(),
        )


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
