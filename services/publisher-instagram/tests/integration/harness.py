"""Test harness: a lease endpoint, a media link server, a result collector, command factories.

The lease endpoint speaks auth's contract (``cachalot_common.leases``) and
hands out Instagram tokens minted by the sandbox. The link server stands in
for the queue's signed media links (tested in the queue's suite and end to
end): it serves the media directory at ``/media/v1/<name>/<expires>/<sig>``
with Starlette's ``FileResponse`` (ranges included), so the sandbox fetches
each file over real HTTP as Instagram would.
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
from fastapi.responses import FileResponse, JSONResponse, Response

from cachalot_common.events import InstagramOptions, MediaRef, PublishPost, PublishResult
from cachalot_common.service_auth import ServiceAuthError, verify_service_token
from cachalot_common.topics import POSTS_RESULT, publish_topic
from cachalot_testing.ports import free_port

SCOPES = ["instagram_business_basic", "instagram_business_content_publish"]
SERVICE = "publisher-instagram"
SERVICE_SECRET = "test-publisher-instagram-secret-0123456789"
CONTENT_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".mp4": "video/mp4"}


class _Threaded:
    """A uvicorn server in a thread."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> FastAPI:
        raise NotImplementedError

    def start(self) -> Any:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)


class LeaseServer(_Threaded):
    """A stand-in for auth's lease endpoint, over real HTTP."""

    def __init__(self, sandbox_url: str) -> None:
        super().__init__()
        self.sandbox_url = sandbox_url
        self._current: dict[str, str] = {}

    def _mint(self, account_id: str) -> str:
        response = httpx.post(
            f"{self.sandbox_url}/sandbox/tokens",
            json={"platform": "instagram", "subject": user_of(account_id), "scopes": SCOPES},
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

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
            if body.get("force_refresh") or account_id not in self._current:
                self._current[account_id] = await asyncio.to_thread(self._mint, account_id)
            return JSONResponse(
                {
                    "account_id": account_id,
                    "platform": "instagram",
                    "access_token": self._current[account_id],
                    "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                    "scopes": SCOPES,
                    "platform_user_id": user_of(account_id),
                }
            )

        return app


class LinkServer(_Threaded):
    """Serves ``media_dir`` at ``/media/v1/<name>/<expires>/<signature>`` (any signature)."""

    def __init__(self, media_dir: Path) -> None:
        super().__init__()
        self.media_dir = media_dir
        self.requests: list[tuple[str, str | None]] = []  # (name, Range header)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/media/v1/{name}/{expires}/{signature}", response_model=None)
        async def media(name: str, expires: str, signature: str, request: Request) -> Response:
            self.requests.append((name, request.headers.get("range")))
            path = self.media_dir / name
            if not path.is_file():
                return JSONResponse({"detail": "not found"}, status_code=404)
            return FileResponse(path, media_type=CONTENT_TYPES[path.suffix])

        return app

    def link(self, path: Path) -> str:
        return f"{self.url}/media/v1/{path.name}/{int(time.time()) + 3600}/{'s' * 43}"


def user_of(account_id: str) -> str:
    return "1784" + str(uuid.UUID(account_id).int)[:13]


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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

    async def wait(
        self, target_id: uuid.UUID, *types: str, timeout: float = 30.0, count: int = 1
    ) -> PublishResult:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [r for r in self.seen if r.target_id == target_id and r.type in types]
            if len(hits) >= count:
                return hits[count - 1]
            await asyncio.sleep(0.05)
        seen = [r.type for r in self.seen if r.target_id == target_id]
        raise TimeoutError(f"no {types} result for {target_id}; saw {seen}")


class Commands:
    """Puts ``PublishPost`` commands on ``posts.publish.instagram.v1``, as the queue does."""

    def __init__(self, bootstrap: str, idempotence: bool, media_dir: Path, links: LinkServer):
        self.bootstrap = bootstrap
        self.idempotence = idempotence
        self.media_dir = media_dir
        self.links = links
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

    def ref(self, path: Path, *, link: bool = True) -> MediaRef:
        return MediaRef(
            media_id=uuid.uuid4(),
            path=str(path.relative_to(self.media_dir)),
            size=path.stat().st_size,
            sha256=sha256_of(path),
            content_type=CONTENT_TYPES[path.suffix],  # type: ignore[arg-type]
            url=self.links.link(path) if link else None,
        )

    def command(self, *files: Path, link: bool = True, caption: str = "hello") -> PublishPost:
        refs = [self.ref(f, link=link) for f in files]
        video = files[0].suffix == ".mp4"
        return PublishPost(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            account_id=uuid.uuid4(),
            platform="instagram",
            attempt=1,
            kind="video" if video else "photo",
            media=refs[0] if video else None,
            images=() if video else tuple(refs),
            options=InstagramOptions(caption=caption),
            grant=f"grant-{uuid.uuid4().hex}",  # the lease stand-in does not check it
        )

    async def send(self, command: PublishPost) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(
            publish_topic("instagram"),
            command.model_dump_json().encode(),
            key=str(command.account_id).encode(),
        )
