"""Composition root: the log, the relay, the rate limiter and the app, wired once.

Tests pass their own ``publisher`` (a fake event sink) or ``limiter``; the
process entry point (:func:`main`) builds the real ones from settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.app import create_service_app, serve
from cachalot_common.health import ReadinessCheck, broker_check
from cachalot_common.kafka import build_broker
from cachalot_common.logging import setup_logging
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import setup_tracing
from cachalot_contact.api import install_routes
from cachalot_contact.cursor import CursorFile
from cachalot_contact.intake import Intake
from cachalot_contact.log import ContactLog
from cachalot_contact.ratelimit import RateLimiter
from cachalot_contact.relay import (
    BrokerEventPublisher,
    EventPublisher,
    KafkaEventPublisher,
    Relay,
)
from cachalot_contact.settings import ContactSettings

SERVICE = "contact"
RELAY_DRAIN_S = 3.0
logger = logging.getLogger(__name__)


def create_app(
    settings: ContactSettings,
    *,
    publisher: EventPublisher | None = None,
    limiter: RateLimiter | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The contact app. Without ``publisher`` it publishes to the configured Kafka."""
    log = ContactLog(settings.log_path)
    broker = None
    producer = None
    if publisher is None and tracer_provider is not None:
        # traced: FastStream's telemetry middleware makes the spans and trace headers
        broker = build_broker(settings, client_id=SERVICE, tracer_provider=tracer_provider)
        publisher = BrokerEventPublisher(broker, bootstrap=settings.kafka_bootstrap)
    elif publisher is None:
        producer = KafkaEventPublisher(settings, client_id=SERVICE)
        publisher = producer
    limiter = limiter or RateLimiter(settings.rate_limits(), settings.rate_limit_storage)
    relay = Relay(log, CursorFile(settings.cursor_path), publisher)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await log.open()
        relay_task: asyncio.Task[None] | None = None
        if settings.contact_relay_enabled:
            relay_task = asyncio.create_task(relay.run(), name="contact-relay")
        else:
            logger.warning("relay disabled (CACHALOT_CONTACT_RELAY_ENABLED=false): not publishing")
        try:
            yield
        finally:
            await log.close()
            if relay_task is not None:
                await _drain(relay, relay_task)
            if broker is not None:
                await broker.stop()
            if producer is not None:
                await producer.close()

    async def log_writable() -> bool:
        return log.writable and os.access(settings.contact_log_dir, os.W_OK)

    readiness: dict[str, ReadinessCheck] = {
        "log": log_writable,
        "rate_limit_store": limiter.healthy,
    }
    if broker is not None:
        readiness["broker"] = broker_check(broker)
    if producer is not None:
        readiness["broker"] = producer.ready
    app = create_service_app(
        title="cachalot-contact",
        settings=settings,
        lifespan=lifespan,  # type: ignore[arg-type]
        readiness=readiness,
        tracer_provider=tracer_provider,
        description="Public contact form: validated, rate limited, logged durably, relayed.",
    )
    install_routes(app, settings, Intake(log), limiter)
    return app


async def _drain(relay: Relay, task: asyncio.Task[None]) -> None:
    """Give the relay a moment to publish what is durable, then stop it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RELAY_DRAIN_S
    while relay.cursor.offset < relay.log.durable_offset and loop.time() < deadline:
        if task.done():
            break
        await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main() -> None:
    """Serve the contact API (``python -m cachalot_contact``)."""
    settings = load_settings(ContactSettings, "cachalot-contact")
    setup_logging(SERVICE, level=settings.log_level, fmt=settings.log_format)
    # Spans cost CPU on every request (about two thirds of the throughput in
    # bench/contact_intake.py), so they are made only when someone collects them.
    provider = (
        setup_tracing(SERVICE, otlp_endpoint=settings.otlp_endpoint)
        if settings.otlp_endpoint
        else None
    )
    app = create_app(settings, tracer_provider=provider)
    # Everything built so far (modules, pydantic schemas, the app) lives as long
    # as the process: freezing it keeps the collector from scanning it again and
    # again under load (about a tenth of the CPU per request in
    # bench/contact_intake.py).
    gc.collect()
    gc.freeze()
    serve(app, settings)


if __name__ == "__main__":
    main()
