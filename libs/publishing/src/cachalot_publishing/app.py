"""``build_publisher_app``: a platform's whole service around its :class:`Platform`.

The subscriber on ``posts.publish.<platform>.v1`` (group
``publisher-<platform>``, manual acknowledgement: offsets are committed by
the runtime, in partition order; records taken in batches of up to
``publish_fetch_max_records``, each handed to the runtime on its own) is
registered here, when the app is built, so FastStream's ``TestKafkaBroker``
drives the real handler. Decoding and the DLQ are the consumer kit's
(``cachalot_common.consuming``), and its broker watch restarts the subscriber
when the broker comes back empty. The platform itself is made in
the lifespan by ``make_publisher`` (it may open a database, an HTTP
client...), before the broker starts.

:class:`PublisherService` is the whole composition root of a platform whose
steps keep state in their own database and call the platform over one
kept-alive HTTP client (every publisher): its ``create_app`` and its process
entry point ``main``, so a publisher's ``main.py`` is its ``build`` and one
declaration.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from aiokafka import TopicPartition
from fastapi import FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaMessage
from opentelemetry import context as otel_context
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine

from cachalot_common.app import create_service_app, serve
from cachalot_common.asyncapi import Produced
from cachalot_common.consuming import (
    BrokerWatch,
    consumes,
    dead_letter,
    decode,
    raw_records,
    watch_subscriber,
)
from cachalot_common.db import (
    create_engine,
    database_check,
    run_migrations,
    run_migrations_async,
)
from cachalot_common.events import PublishPost, PublishResult
from cachalot_common.health import ReadinessCheck, declared_dependencies
from cachalot_common.kafka import build_broker, consumer_options
from cachalot_common.leases import LeaseClient, LeaseSource
from cachalot_common.logging import setup_logging
from cachalot_common.redaction import register_secret
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import (
    instrument_engine,
    instrument_httpx_client,
    setup_tracing,
)
from cachalot_common.topics import POSTS_RESULT, publish_topic
from cachalot_common.topics import Platform as PlatformName
from cachalot_publishing.http import platform_http_client
from cachalot_publishing.ports import Platform
from cachalot_publishing.results import KafkaResults, ResultSink
from cachalot_publishing.runtime import PublishRuntime
from cachalot_publishing.settings import PublisherSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublisherParts:
    """What ``make_publisher`` may use to build its platform."""

    settings: PublisherSettings
    tracer_provider: TracerProvider | None


MakePublisher = Callable[[PublisherParts], AbstractAsyncContextManager[Platform]]


def build_publisher_app(
    settings: PublisherSettings,
    *,
    platform: PlatformName,
    make_publisher: MakePublisher,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    description: str = "",
) -> FastAPI:
    """The ``publisher-<platform>`` service.

    ``make_publisher(parts)`` is an async context manager yielding the
    platform (entered in the lifespan, left at shutdown). ``leases`` and
    ``results`` replace auth's lease endpoint and the Kafka result sink
    (tests). ``app.state.runtime``, ``app.state.broker`` and ``app.state.watch`` are
    exposed for tests. The consumer group is ``publisher-<platform>``; the label people
    read is the platform registry's (:mod:`cachalot_common.platforms`).
    """
    service = f"publisher-{platform}"
    broker = build_broker(settings, client_id=service, tracer_provider=tracer_provider)
    sink = results or KafkaResults(broker, tracer_provider)
    # auth's lease endpoint, on the same lean HTTP stack as the platform's calls
    lease_http = platform_http_client(
        timeout=httpx.Timeout(30.0), max_connections=settings.publish_concurrency
    )
    if tracer_provider is not None:  # auth's lease routes in the command's trace
        instrument_httpx_client(lease_http, tracer_provider)
    source = leases or LeaseClient(
        base_url=settings.auth_url,
        service=settings.service_name,
        secret=settings.service_secret.get_secret_value(),
        client=lease_http,
    )
    runtime = PublishRuntime(settings, platform=platform, results=sink, leases=source)
    topic = publish_topic(platform)
    subscriber = broker.subscriber(
        topic,
        group_id=service,
        ack_policy=AckPolicy.MANUAL,
        batch=True,  # FastStream's per-message consume was a fifth of a publisher's CPU
        max_records=settings.publish_fetch_max_records,
        batch_timeout_ms=100,  # only when nothing is waiting: a fetch returns what it has
        decoder=raw_records,
        listener=runtime.listener,
        **consumer_options(settings),
    )

    @subscriber
    async def on_publish_commands(bodies: list[bytes], message: KafkaMessage) -> None:
        """Decode each record (or park it in the DLQ) and hand it to the runtime, in order;
        never waits on a publish. Each command keeps the trace context of its own record."""
        for body, record in zip(bodies, message.raw_message, strict=True):
            partition = TopicPartition(record.topic, record.partition)
            command = decode(PublishPost, body)
            if isinstance(command, str):
                await dead_letter(broker, topic, record, body, reason=command)
                runtime.skip(partition, record.offset)
                continue
            runtime.accept(command, partition, record.offset, trace_context=_trace_of(record))

    runtime.health = watch_subscriber(broker, subscriber, f"{service}:{topic}")
    consumes(broker, topic, PublishPost, group_id=service)
    watch = BrokerWatch(broker, settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        parts = PublisherParts(settings=settings, tracer_provider=tracer_provider)
        try:
            async with make_publisher(parts) as publisher:
                runtime.attach(publisher, lambda: subscriber.consumer)
                await runtime.start()
                await watch.start()
                try:
                    yield
                finally:
                    try:
                        await runtime.stop()  # commands in flight end without results
                    finally:
                        await watch.stop()
        finally:
            await lease_http.aclose()

    app = create_service_app(
        title=f"cachalot-{service}",
        settings=settings,
        lifespan=lifespan,  # type: ignore[arg-type]
        readiness={**watch.readiness(), **dict(readiness or {})},
        # a command waits (its lease is asked again) while auth is away
        dependencies=declared_dependencies(
            services={"auth": settings.auth_url} if leases is None else None
        ),
        tracer_provider=tracer_provider,
        description=description or f"Publishes queued videos to {runtime.label}.",
        produces=[Produced(POSTS_RESULT, PublishResult, "Progress and outcome of each command.")],
    )
    app.state.runtime = runtime
    app.state.broker = broker
    app.state.watch = watch
    return app


SettingsT = TypeVar("SettingsT", bound=PublisherSettings)


@dataclass(frozen=True)
class PlatformWiring:
    """What a platform's ``build`` gets beside its settings: its database engine and the
    kept-alive HTTP client for every call to the platform (closed at shutdown)."""

    engine: AsyncEngine
    http: httpx.AsyncClient


def _no_secrets(_: Any) -> Iterable[str]:
    return ()


@dataclass(frozen=True, kw_only=True)
class PublisherService(Generic[SettingsT]):
    """A ``publisher-<platform>`` declared: all its ``main.py`` holds.

    ``build(settings, wiring)`` makes the platform's steps (in the lifespan,
    once per app); ``request_timeout_s(settings)`` is the read timeout of each
    call to the platform (its ``<platform>_request_timeout_s`` setting);
    ``secrets(settings)`` the values to redact beyond the service secret;
    ``commands`` the process's extra commands by name (``python -m ... <name>``).
    """

    platform: PlatformName
    settings: type[SettingsT]
    description: str
    alembic_dir: Path
    request_timeout_s: Callable[[SettingsT], float]
    build: Callable[[SettingsT, PlatformWiring], Platform]
    secrets: Callable[[SettingsT], Iterable[str]] = _no_secrets
    commands: Mapping[str, Callable[[SettingsT], None]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The service's name and consumer group: ``publisher-<platform>``."""
        return f"publisher-{self.platform}"

    def create_app(
        self,
        settings: SettingsT,
        *,
        leases: LeaseSource | None = None,
        results: ResultSink | None = None,
        tracer_provider: TracerProvider | None = None,
    ) -> FastAPI:
        """The service app; tests pass their own ``leases`` (a stand-in for auth) or
        ``results`` sink, the process builds the real ones.

        ``settings.database_url`` is the platform's database (its own SQLite file by
        default). In the lifespan: migrations to head (when ``auto_migrate``), then one
        :func:`platform_http_client` of ``2 × publish_concurrency`` connections with
        ``request_timeout_s`` per read (connect 10 s; traced when ``tracer_provider`` is
        given), then ``build`` makes the platform; at shutdown the client is closed and
        the engine disposed. ``/readyz`` checks the database. The rest is
        :func:`build_publisher_app`'s.
        """
        engine = create_engine(settings.database_url)
        instrument_engine(engine, tracer_provider)

        @contextlib.asynccontextmanager
        async def make_publisher(_: PublisherParts) -> AsyncIterator[Platform]:
            if settings.auto_migrate:
                await run_migrations_async(self.alembic_dir, settings.database_url)
            timeout = httpx.Timeout(self.request_timeout_s(settings), connect=10.0)
            try:
                async with platform_http_client(
                    timeout=timeout, max_connections=settings.publish_concurrency * 2
                ) as http:
                    if tracer_provider is not None:
                        instrument_httpx_client(http, tracer_provider)
                    wiring = PlatformWiring(engine=engine, http=http)
                    yield self.build(settings, wiring)
            finally:
                await engine.dispose()

        return build_publisher_app(
            settings,
            platform=self.platform,
            make_publisher=make_publisher,
            leases=leases,
            results=results,
            tracer_provider=tracer_provider,
            readiness={"database": database_check(engine)},
            description=self.description,
        )

    def main(self) -> None:
        """The process (``python -m cachalot_publisher_<platform>``): settings from the
        environment (exit 2 on a bad one), logging, every secret registered for redaction
        (the service secret and ``secrets(settings)``), then by ``sys.argv``: ``migrate``
        only runs the migrations, a name in ``commands`` runs that command, nothing serves
        :meth:`create_app`."""
        settings = load_settings(self.settings, self.name)
        setup_logging(self.name, level=settings.log_level, fmt=settings.log_format)
        register_secret(settings.service_secret.get_secret_value())
        for secret in self.secrets(settings):
            register_secret(secret)
        arguments = sys.argv[1:]
        if arguments == ["migrate"]:
            run_migrations(self.alembic_dir, settings.database_url)
            return
        if len(arguments) == 1 and arguments[0] in self.commands:
            self.commands[arguments[0]](settings)
            return
        provider = setup_tracing(self.name, otlp_endpoint=settings.otlp_endpoint)
        serve(self.create_app(settings, tracer_provider=provider), settings)


def _trace_of(record: Any) -> otel_context.Context:
    """The W3C trace context the record's headers carry (the queue's dispatch span)."""
    headers = getattr(record, "headers", None) or ()
    carrier = {
        key: value.decode("latin-1") if isinstance(value, bytes) else str(value)
        for key, value in headers
    }
    return propagate.extract(carrier) if carrier else otel_context.get_current()
