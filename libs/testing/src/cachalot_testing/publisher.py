"""What every ``publisher-<platform>`` test suite stands up around the real process.

* :class:`LeaseStandIn`: auth's lease endpoint (``cachalot_common.leases``)
  over real HTTP in a thread: it verifies the publisher's service JWT, answers
  with tokens minted by the sandbox (``/sandbox/tokens``) for the account's
  platform user, and records what it was asked; a platform adds endpoints or
  fields by subclassing (:meth:`LeaseStandIn.routes`, :meth:`LeaseStandIn.lease_body`).
* :class:`Results`: every ``PublishResult`` on ``posts.result.v1``, collected
  in the background; tests wait on the ones they expect.
* :class:`Commands`: puts ``PublishPost`` commands on
  ``posts.publish.<platform>.v1`` keyed by account, as the queue does; a
  platform's harness adds its own command factory.
* :func:`in_memory`: a publisher's real app (its ``create_app``) started in this
  process, its subscriber driven by FastStream's ``TestKafkaBroker``
  (:class:`InMemoryPublisher`: send commands, wait for results).
* :func:`start_sandbox`, :func:`publisher_env` and :class:`PublisherProcesses`:
  the sandbox process, the settings every publisher needs in a test, and
  publisher processes started on their own ports and stopped at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from faststream.kafka import TestKafkaBroker

from cachalot_common.consuming import raw_body
from cachalot_common.events import MediaRef, PublishPost, PublishResult
from cachalot_common.kafka import encode
from cachalot_common.service_auth import ServiceAuthError, verify_service_token
from cachalot_common.topics import POSTS_RESULT, Platform, publish_topic
from cachalot_testing.ports import free_port
from cachalot_testing.processes import ServiceProcess

STARTUP_TIMEOUT_S = 180.0  # a loaded two-core machine takes a while to import everything


class ThreadedServer:
    """A FastAPI app (:meth:`app`) served by uvicorn in a daemon thread on a free port."""

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
        """Serve and wait (up to 10 s) until uvicorn is listening; returns ``self``."""
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{type(self).__name__} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)


class LeaseStandIn(ThreadedServer):
    """Auth's ``POST /internal/v1/accounts/{id}/lease`` for ``service``, and its batches of
    confirmations (``POST /internal/v1/leases/confirm``: each item answered as the lease
    alone, recorded like one; ``confirm_requests`` counts the requests).

    Answers: 401 for a bad service JWT; 403 ``{"code": refusals[id]}``; 409
    ``reauth_required`` for accounts in ``reauth``; otherwise the account's
    current token (minted from the sandbox on first use and on
    ``force_refresh``: ``token_platform``, :meth:`subject_of`, :meth:`scopes_of`).
    Records every request body in ``calls`` (with ``account_id``), each
    ``grant`` in ``grants``, every minted token in ``issued`` and counts
    forced refreshes. ``tokens`` may be set by a test (auth hands that one out).
    """

    def __init__(
        self,
        sandbox_url: str,
        *,
        service: str,
        secret: str,
        platform: str,
        token_platform: str | None = None,
        scopes: list[str] | None = None,
        subject: Callable[[str], str] | None = None,
        destination: str | None = None,
    ) -> None:
        """``destination``: every lease's ``destination`` (Telegram's linked channel)."""
        super().__init__()
        self.destination = destination
        self.sandbox_url = sandbox_url
        self.service = service
        self.secret = secret
        self.platform = platform
        self.token_platform = token_platform or platform
        self.default_scopes = list(scopes or [])
        self._subject = subject or (lambda account_id: f"user-{account_id}")
        self.scopes: dict[str, list[str]] = {}  # per account, instead of the default
        self.tokens: dict[str, str] = {}
        self.calls: list[dict[str, Any]] = []
        self.grants: list[str | None] = []
        self.issued: list[str] = []
        self.reauth: set[str] = set()
        self.refusals: dict[str, str] = {}  # account → auth's 403 code
        # account → (n, code): answers from the n-th on (1-based) are that 403 (an account
        # moved to another client or disconnected while a command of it was under way)
        self.refuse_from: dict[str, tuple[int, str]] = {}
        self._answered: dict[str, int] = {}
        self.force_refreshes = 0
        self.confirm_requests = 0
        self.rejected: list[str] = []  # accounts the publisher said the platform refused

    def reset(self) -> None:
        """Forget tokens and recorded calls, refusals and reauth marks."""
        self.tokens.clear()
        self.calls.clear()
        self.refuse_from.clear()
        self._answered.clear()
        self.confirm_requests = 0
        self.reauth.clear()
        self.refusals.clear()
        self.rejected.clear()

    def subject_of(self, account_id: str) -> str:
        return self._subject(account_id)

    def scopes_of(self, account_id: str) -> list[str]:
        """The scopes of the account's lease (and of its minted tokens)."""
        return self.scopes.get(account_id, self.default_scopes)

    def minted_scopes_of(self, account_id: str) -> list[str]:
        return self.scopes_of(account_id)

    async def _mint(self, account_id: str) -> str:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(
                f"{self.sandbox_url}/sandbox/tokens",
                json={
                    "platform": self.token_platform,
                    "subject": self.subject_of(account_id),
                    "scopes": self.minted_scopes_of(account_id),
                },
            )
        response.raise_for_status()
        token = str(response.json()["access_token"])
        self.issued.append(token)
        return token

    def refused(self, request: Request) -> JSONResponse | None:
        """A 401 unless the request carries the publisher's valid service JWT."""
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            verify_service_token(bearer, secrets={self.service: self.secret})
        except ServiceAuthError as error:
            return JSONResponse({"detail": str(error)}, status_code=401)
        return None

    async def lease_body(
        self, account_id: str, body: dict[str, Any]
    ) -> dict[str, Any] | JSONResponse:
        """The 200 answer (auth's ``Lease``) to ``body``, minting a token when needed
        (a platform may answer with a refusal instead)."""
        if body.get("force_refresh") or account_id not in self.tokens:
            self.tokens[account_id] = await self._mint(account_id)
        return {
            "account_id": account_id,
            "platform": self.platform,
            "access_token": self.tokens[account_id],
            "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "scopes": self.scopes_of(account_id),
            "platform_user_id": self.subject_of(account_id),
            "destination": self.destination,
        }

    async def _answer(self, account_id: str, body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
        """One lease (alone, or an item of a confirmation batch), recorded in ``calls``."""
        self.calls.append({"account_id": account_id, **body})
        self.grants.append(body.get("grant"))
        self._answered[account_id] = self._answered.get(account_id, 0) + 1
        later = self.refuse_from.get(account_id)
        if later is not None and self._answered[account_id] >= later[0]:
            self.refusals[account_id] = later[1]
        if account_id in self.refusals:
            return JSONResponse(
                {"code": self.refusals[account_id], "detail": "refused"}, status_code=403
            )
        if account_id in self.reauth:
            return JSONResponse(
                {"code": "reauth_required", "detail": "reconnect the account"},
                status_code=409,
            )
        if body.get("force_refresh"):
            self.force_refreshes += 1
        return await self.lease_body(account_id, body)

    def routes(self, app: FastAPI) -> None:
        """More of auth's endpoints a platform needs (none by default)."""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/internal/v1/accounts/{account_id}/lease")
        async def lease(account_id: str, request: Request) -> JSONResponse:
            refused = self.refused(request)
            if refused is not None:
                return refused
            answer = await self._answer(account_id, await request.json())
            return answer if isinstance(answer, JSONResponse) else JSONResponse(answer)

        @app.post("/internal/v1/leases/confirm")
        async def confirm(request: Request) -> JSONResponse:
            refused = self.refused(request)
            if refused is not None:
                return refused
            self.confirm_requests += 1
            answers = []
            for item in (await request.json())["leases"]:
                item["force_refresh"] = False  # a confirmation never forces a refresh
                answer = await self._answer(item.pop("account_id"), item)
                if isinstance(answer, JSONResponse):
                    problem = json.loads(bytes(answer.body))
                    answers.append({"status": answer.status_code, **problem})
                else:
                    answers.append({"status": 200, "lease": answer})
            return JSONResponse({"leases": answers})

        @app.post("/internal/v1/accounts/{account_id}/token-rejected")
        async def token_rejected(account_id: str, request: Request) -> Response:
            refused = self.refused(request)
            if refused is not None:
                return refused
            await request.json()
            self.rejected.append(account_id)
            self.reauth.add(account_id)  # as auth marks it reauth_required
            return Response(status_code=204)

        self.routes(app)
        return app


class Results:
    """Collects ``posts.result.v1`` in the background.

    ``from_latest``: read from the end of the topic as it is when :meth:`start`
    returns (every partition's end is read before); otherwise the whole topic from
    the start. Without a consumer group either way: no join to wait for (Tansu holds
    each join for about five seconds).
    """

    def __init__(self, bootstrap: str, *, from_latest: bool = False) -> None:
        self.bootstrap = bootstrap
        self.from_latest = from_latest
        self.seen: list[PublishResult] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Results:
        self._consumer = AIOKafkaConsumer(
            POSTS_RESULT,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="latest" if self.from_latest else "earliest",
            enable_auto_commit=False,
        )
        await self._consumer.start()
        if self.from_latest:
            deadline = time.monotonic() + 10
            while not self._consumer.assignment():
                if time.monotonic() > deadline:
                    raise TimeoutError("result consumer got no partitions")
                await asyncio.sleep(0.05)
            for partition in self._consumer.assignment():  # each end read now, not later
                await self._consumer.position(partition)
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

    def finals(self, target_id: uuid.UUID, attempt: int | None = None) -> list[PublishResult]:
        """The target's non-progress results (of ``attempt`` when given), in arrival order."""
        return [
            r
            for r in self.for_target(target_id)
            if r.type != "progress" and (attempt is None or r.attempt == attempt)
        ]

    def progress(self, target_id: uuid.UUID) -> list[int]:
        """``bytes_sent`` of the target's progress results, in arrival order."""
        return [r.bytes_sent or 0 for r in self.for_target(target_id) if r.type == "progress"]

    async def final(
        self,
        target_id: uuid.UUID,
        attempt: int | None = None,
        *,
        timeout: float = 60.0,
        latest: bool = False,
    ) -> PublishResult:
        """The first (``latest``: the last seen) non-progress result of the target."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if hits := self.finals(target_id, attempt):
                return hits[-1] if latest else hits[0]
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no final result for {target_id} attempt {attempt}")

    async def wait(
        self, target_id: uuid.UUID, *types: str, timeout: float = 30.0, count: int = 1
    ) -> PublishResult:
        """The ``count``-th result of one of ``types`` for the target."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = [r for r in self.for_target(target_id) if r.type in types]
            if len(hits) >= count:
                return hits[count - 1]
            await asyncio.sleep(0.05)
        seen = [r.type for r in self.for_target(target_id)]
        raise TimeoutError(f"no {types} result for {target_id}; saw {seen}")


class Commands:
    """Sends commands to ``posts.publish.<platform>.v1``, keyed by account, as the queue does."""

    def __init__(self, bootstrap: str, idempotence: bool, media_dir: Path) -> None:
        self.bootstrap = bootstrap
        self.idempotence = idempotence
        self.media_dir = media_dir
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> Any:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=self.idempotence
        )
        await self._producer.start()
        return self

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    def ref(self, path: Path, content_type: str, *, url: str | None = None) -> MediaRef:
        """A reference to a file in ``media_dir`` (size and SHA-256 read from it)."""
        return MediaRef(
            media_id=uuid.uuid4(),
            path=str(path.relative_to(self.media_dir)),
            size=path.stat().st_size,
            sha256=sha256_of(path),
            content_type=content_type,  # type: ignore[arg-type]
            url=url,
        )

    async def send(self, command: PublishPost) -> None:
        assert self._producer is not None
        await self._producer.send_and_wait(
            publish_topic(command.platform),
            command.model_dump_json().encode(),
            key=str(command.account_id).encode(),
        )


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def start_sandbox(log_dir: Path, env: Mapping[str, str] | None = None) -> ServiceProcess:
    """The sandbox (every platform's fake) as a process; its log in ``log_dir``."""
    return ServiceProcess(
        "cachalot_sandbox", env=dict(env or {}), log_path=log_dir / "sandbox.log"
    ).start(timeout=STARTUP_TIMEOUT_S)


def publisher_env(
    *,
    service: str,
    secret: str,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    database_url: str,
    auth_url: str,
    media_dir: Path,
    **settings: str,
) -> dict[str, str]:
    """The settings every publisher process needs in a test, plus ``settings``
    (``CACHALOT_*`` names). Every progress report is sent, however quick."""
    return {
        "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CACHALOT_KAFKA_IDEMPOTENCE": str(kafka_idempotence).lower(),
        "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": "6000",
        "CACHALOT_DATABASE_URL": database_url,
        "CACHALOT_AUTH_URL": auth_url,
        "CACHALOT_SERVICE_NAME": service,
        "CACHALOT_SERVICE_SECRET": secret,
        "CACHALOT_MEDIA_DIR": str(media_dir),
        "CACHALOT_PUBLISH_PROGRESS_INTERVAL_S": "0",
        "CACHALOT_LOG_LEVEL": "INFO",
        "CACHALOT_ENVIRONMENT": "test",
        **settings,
    }


class PublisherProcesses:
    """Starts ``python -m <module>`` publishers, each on its own port and log, ready
    (``/readyz``) before :meth:`start` returns; :meth:`stop_all` stops every one."""

    def __init__(self, module: str, env: Mapping[str, str], log_dir: Path) -> None:
        self.module = module
        self.env = dict(env)
        self.log_dir = log_dir
        self.started: list[ServiceProcess] = []

    def start(self) -> ServiceProcess:
        process = ServiceProcess(
            self.module,
            env=self.env,
            log_path=self.log_dir / f"publisher-{len(self.started)}.log",
        )
        self.started.append(process)
        process.start(timeout=STARTUP_TIMEOUT_S)
        process.wait_healthy(path="/readyz", timeout=STARTUP_TIMEOUT_S)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@dataclass
class InMemoryPublisher:
    """A publisher app's broker under ``TestKafkaBroker``, and every result it sent."""

    broker: Any
    runtime: Any  # cachalot_publishing.runtime.PublishRuntime (its wait_idle)
    results: list[PublishResult]
    topic: str

    async def send(self, command: PublishPost) -> None:
        """As the queue does: the command on its topic, keyed by account."""
        await self.broker.publish(
            encode(command), topic=self.topic, key=str(command.account_id).encode()
        )

    def finals(self, target_id: uuid.UUID) -> list[PublishResult]:
        return [r for r in self.results if r.target_id == target_id and r.type != "progress"]

    def progress(self, target_id: uuid.UUID) -> list[int]:
        """Bytes sent, as each progress result said."""
        return [
            r.bytes_sent or 0
            for r in self.results
            if r.target_id == target_id and r.type == "progress"
        ]

    async def final(
        self, target_id: uuid.UUID, *, count: int = 1, timeout: float = 15
    ) -> PublishResult:
        """The target's ``count``-th final result (after the runtime went idle); raises
        ``TimeoutError`` naming what was seen when it does not come in ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while len(self.finals(target_id)) < count:
            if time.monotonic() > deadline:
                seen = [(r.type, r.code) for r in self.results if r.target_id == target_id]
                raise TimeoutError(f"no final result {count} for {target_id}; saw {seen}")
            await asyncio.sleep(0.02)
        await self.runtime.wait_idle()
        return self.finals(target_id)[count - 1]


def in_memory_settings(
    *, service: str, secret: str, auth_url: str, media_dir: Path, **settings: Any
) -> dict[str, Any]:
    """The settings (field names) every publisher app needs under :func:`in_memory`, plus
    ``settings``: its own SQLite file beside ``media_dir``, a Kafka nobody dials
    (``TestKafkaBroker`` stands in for it), every progress report sent, offsets committed
    quickly. Pass them to the publisher's settings class."""
    return {
        "environment": "test",
        "kafka_bootstrap": "127.0.0.1:1",
        "kafka_idempotence": False,
        "database_url": f"sqlite+aiosqlite:///{media_dir.with_name(uuid.uuid4().hex)}.db",
        "auth_url": auth_url,
        "service_name": service,
        "service_secret": secret,
        "media_dir": media_dir,
        "publish_progress_interval_s": 0,
        "publish_commit_interval_s": 0.05,
        **settings,
    }


@contextlib.asynccontextmanager
async def in_memory(app: FastAPI, platform: Platform) -> AsyncIterator[InMemoryPublisher]:
    """``app`` (a publisher's real ``create_app``, no replaced parts) started, its broker in
    memory: commands sent go to the subscriber registered when the app was built, results
    on ``posts.result.v1`` are collected."""
    broker = app.state.broker
    results: list[PublishResult] = []

    @broker.subscriber(POSTS_RESULT, decoder=raw_body)  # type: ignore[untyped-decorator]
    async def collect(body: bytes) -> None:
        results.append(PublishResult.model_validate_json(body))

    async with TestKafkaBroker(broker) as test_broker, app.router.lifespan_context(app):
        yield InMemoryPublisher(test_broker, app.state.runtime, results, publish_topic(platform))
