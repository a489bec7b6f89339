"""Test harness: a real lease endpoint, a result collector and command factories.

The lease endpoint speaks auth's contract (``cachalot_common.leases``): it
verifies the publisher's service JWT and hands out Google access tokens
minted by the sandbox, so the publisher's real ``LeaseClient`` is exercised
over real HTTP while the auth service is written elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cachalot_common.events import MediaRef, PublishResult, PublishVideo, YouTubeOptions
from cachalot_common.service_auth import ServiceAuthError, verify_service_token
from cachalot_common.topics import POSTS_RESULT, publish_topic
from cachalot_testing.ports import free_port

UPLOAD_SCOPE = "https://www.googleapis.com/auth/youtube.upload"
READ_SCOPE = "https://www.googleapis.com/auth/youtube.readonly"  # to list the channel's uploads
SERVICE = "publisher-youtube"
SERVICE_SECRET = "test-publisher-youtube-secret-0123456789"


class LeaseServer:
    """A stand-in for auth's lease endpoint, over real HTTP, in a thread."""

    def __init__(self, sandbox_url: str) -> None:
        self.sandbox_url = sandbox_url
        self.port = free_port()
        self.issued: list[str] = []
        self.force_refreshes = 0
        self.reauth_accounts: set[str] = set()
        self.upload_only_accounts: set[str] = set()  # granted youtube.upload alone
        self.grants: list[str | None] = []  # the grant each lease request carried
        self._current: dict[str, str] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _mint(self, account_id: str) -> str:
        response = httpx.post(
            f"{self.sandbox_url}/sandbox/tokens",
            json={
                "platform": "google",
                "subject": channel_of(account_id),
                "scopes": [UPLOAD_SCOPE]
                if account_id in self.upload_only_accounts
                else [UPLOAD_SCOPE, READ_SCOPE],
            },
        )
        response.raise_for_status()
        token = str(response.json()["access_token"])
        self.issued.append(token)
        return token

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/internal/v1/accounts/{account_id}/lease")
        async def lease(account_id: str, request: Request) -> JSONResponse:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                verify_service_token(bearer, secrets={SERVICE: SERVICE_SECRET})
            except ServiceAuthError as error:
                return JSONResponse({"detail": str(error)}, status_code=401)
            if account_id in self.reauth_accounts:
                return JSONResponse(
                    {"code": "reauth_required", "detail": "invalid_grant at Google"},
                    status_code=409,
                )
            body = await request.json()
            self.grants.append(body.get("grant"))
            if body.get("force_refresh"):
                self.force_refreshes += 1
            if body.get("force_refresh") or account_id not in self._current:
                self._current[account_id] = await asyncio.to_thread(self._mint, account_id)
            return JSONResponse(
                {
                    "account_id": account_id,
                    "platform": "youtube",
                    "access_token": self._current[account_id],
                    "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                    "scopes": [UPLOAD_SCOPE, READ_SCOPE],
                    "platform_user_id": channel_of(account_id),
                }
            )

        return app

    def start(self) -> LeaseServer:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("lease server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)


def channel_of(account_id: str) -> str:
    return "UC" + uuid.UUID(account_id).hex[:22]


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

    async def wait(
        self, target_id: uuid.UUID, *types: str, timeout: float = 30.0, count: int = 1
    ) -> PublishResult:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [r for r in self.for_target(target_id) if r.type in types]
            if len(hits) >= count:
                return hits[count - 1]
            await asyncio.sleep(0.05)
        raise TimeoutError(
            f"no {types} result for {target_id}; saw {[r.type for r in self.for_target(target_id)]}"
        )


class Commands:
    """Puts ``PublishVideo`` commands on the publisher's topic, as the queue does."""

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

    def command(self, media: Path, **options: Any) -> PublishVideo:
        data_sha = sha256_of(media)
        return PublishVideo(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            account_id=uuid.uuid4(),
            platform="youtube",
            attempt=1,
            media=MediaRef(
                media_id=uuid.uuid4(),
                path=str(media.relative_to(self.media_dir)),
                size=media.stat().st_size,
                sha256=data_sha,
                content_type="video/mp4",
            ),
            options=YouTubeOptions(title=options.pop("title", "A test video"), **options),
            grant=f"grant-{uuid.uuid4().hex}",  # the lease stand-in only records it
        )

    async def send(self, command: PublishVideo) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(
            publish_topic("youtube"),
            command.model_dump_json().encode(),
            key=str(command.account_id).encode(),
        )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def sandbox_client(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        yield client
