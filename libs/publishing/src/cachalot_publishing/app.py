"""``build_publisher_app``: a platform's whole service around its :class:`Platform`.

The subscriber on ``posts.publish.<platform>.v1`` (group
``publisher-<platform>``, manual acknowledgement: offsets are committed by
the runtime, in partition order) is registered here, when the app is built,
so FastStream's ``TestKafkaBroker`` drives the real handler. Decoding and the
DLQ are the consumer kit's (``cachalot_common.consuming``), and its broker
watch restarts the subscriber when the broker comes back empty. The platform itself is made in
the lifespan by ``make_publisher`` (it may open a database, an HTTP
client...), before the broker starts.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import httpx
from aiokafka import TopicPartition
from fastapi import FastAPI
from faststream import AckPolicy
from faststream.kafka import KafkaMessage
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.app import create_service_app
from cachalot_common.consuming import (
    BrokerWatch,
    dead_letter_message,
    decode,
    raw_body,
    watch_subscriber,
)
from cachalot_common.events import PublishVideo
from cachalot_common.health import ReadinessCheck
from cachalot_common.kafka import build_broker, consumer_options
from cachalot_common.leases import LeaseClient, LeaseSource
from cachalot_common.topics import Platform as PlatformName
from cachalot_common.topics import publish_topic
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
    label: str,
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
    exposed for tests. The consumer group is ``publisher-<platform>``.
    """
    service = f"publisher-{platform}"
    broker = build_broker(settings, client_id=service, tracer_provider=tracer_provider)
    sink = results or KafkaResults(broker)
    lease_http = httpx.AsyncClient(timeout=30.0)
    source = leases or LeaseClient(
        base_url=settings.auth_url,
        service=settings.service_name,
        secret=settings.service_secret.get_secret_value(),
        client=lease_http,
    )
    runtime = PublishRuntime(settings, platform=platform, label=label, results=sink, leases=source)
    topic = publish_topic(platform)
    subscriber = broker.subscriber(
        topic,
        group_id=service,
        ack_policy=AckPolicy.MANUAL,
        decoder=raw_body,
        listener=runtime.listener,
        max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
        **consumer_options(settings),
    )

    @subscriber
    async def on_publish_command(body: bytes, message: KafkaMessage) -> None:
        """Decode (or park in the DLQ) and hand over to the runtime; never waits on a publish."""
        record = message.raw_message
        partition = TopicPartition(record.topic, record.partition)  # type: ignore[union-attr]
        command = decode(PublishVideo, body)
        if isinstance(command, str):
            await dead_letter_message(broker, message, reason=command, topic=topic)
            runtime.skip(partition, record.offset)  # type: ignore[union-attr]
            return
        runtime.accept(command, partition, record.offset)  # type: ignore[union-attr]

    watch_subscriber(broker, subscriber, f"{service}:{topic}")
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
        tracer_provider=tracer_provider,
        description=description or f"Publishes queued videos to {label}.",
    )
    app.state.runtime = runtime
    app.state.broker = broker
    app.state.watch = watch
    return app
