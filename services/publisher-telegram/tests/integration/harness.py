"""Test harness: auth's two internal endpoints as a real HTTP stand-in, results and commands.

The stand-in speaks auth's contract (``cachalot_common.leases``; the channel
reports of ``cachalot_publisher_telegram.links``): it verifies the
publisher's service JWT, answers leases with the account's ``destination``
(the linked channel) and records the reports, so the publisher's real
clients run over real HTTP.
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

import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from cachalot_common.events import (
    Article,
    MediaRef,
    PostKind,
    PublishResult,
    PublishVideo,
    TelegramOptions,
)
from cachalot_common.service_auth import ServiceAuthError, verify_service_token
from cachalot_common.topics import POSTS_RESULT, publish_topic
from cachalot_testing.ports import free_port

SERVICE = "publisher-telegram"
SERVICE_SECRET = "test-publisher-telegram-secret-0123456789"
BOT_TOKEN = "424242:AAtelegramTESTtelegramTESTtelegramTE"
BOT_USERNAME = "cachalot_sandbox_bot"
CHANNEL_ID = -1001000000001


class AuthStandIn:
    """Auth's lease and channel-report endpoints, over real HTTP, in a thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self.destinations: dict[str, str] = {}
        self.unlinked: set[str] = set()
        self.reports: list[dict[str, Any]] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _check(self, request: Request) -> JSONResponse | None:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            verify_service_token(bearer, secrets={SERVICE: SERVICE_SECRET})
        except ServiceAuthError as error:
            return JSONResponse({"detail": str(error)}, status_code=401)
        return None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/internal/v1/accounts/{account_id}/lease")
        async def lease(account_id: str, request: Request) -> JSONResponse:
            refused = self._check(request)
            if refused is not None:
                return refused
            if account_id in self.unlinked:
                return JSONResponse(
                    {"code": "channel_not_linked", "detail": "link a channel first"},
                    status_code=409,
                )
            return JSONResponse(
                {
                    "account_id": account_id,
                    "platform": "telegram",
                    "access_token": "",
                    "expires_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
                    "scopes": [],
                    "platform_user_id": "700000001",
                    "destination": self.destinations.get(account_id, str(CHANNEL_ID)),
                }
            )

        @app.post("/internal/v1/accounts/{account_id}/telegram-channel")
        async def channel_report(account_id: str, request: Request) -> Response:
            refused = self._check(request)
            if refused is not None:
                return refused
            body = await request.json()
            self.reports.append({"account_id": account_id, **body})
            if body["event"] == "migrated":
                self.destinations[account_id] = body["migrate_to_chat_id"]
            return Response(status_code=204)

        return app

    def start(self) -> AuthStandIn:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("auth stand-in did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)


class Results:
    """Collects ``posts.result.v1`` in the background; tests wait on what they expect."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.seen: list[PublishResult] = []
        self._task: asyncio.Task[None] | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> Results:
        self._consumer = AIOKafkaConsumer(
            POSTS_RESULT,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self._consumer.start()
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

    def for_target(self, target_id: uuid.UUID) -> list[PublishResult]:
        return [r for r in self.seen if r.target_id == target_id]

    async def final(self, target_id: uuid.UUID, *, timeout: float = 60.0) -> PublishResult:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [r for r in self.for_target(target_id) if r.type != "progress"]
            if hits:
                return hits[-1]
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no final result for {target_id}")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class Commands:
    """Puts ``PublishPost`` commands on ``posts.publish.telegram.v1``, as the queue does."""

    def __init__(self, bootstrap: str, idempotence: bool, media_dir: Path) -> None:
        self.bootstrap = bootstrap
        self.idempotence = idempotence
        self.media_dir = media_dir
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> Commands:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=self.idempotence
        )
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
        kind: PostKind,
        *,
        video: Path | None = None,
        images: tuple[Path, ...] = (),
        article: Article | None = None,
        **options: Any,
    ) -> PublishVideo:
        return PublishVideo(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            account_id=uuid.uuid4(),
            platform="telegram",
            attempt=1,
            kind=kind,
            media=self.ref(video, "video/mp4") if video else None,
            images=tuple(self.ref(p, "image/jpeg") for p in images),
            article=article,
            options=TelegramOptions(**options),
            grant=f"grant-{uuid.uuid4().hex}",  # the stand-in does not check it
        )

    async def send(self, command: PublishVideo) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(
            publish_topic("telegram"),
            command.model_dump_json().encode(),
            key=str(command.account_id).encode(),
        )
