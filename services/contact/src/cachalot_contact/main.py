"""Composition root: the log, the relay, the rate limiter and the app, wired once.

Tests pass their own ``publisher`` (a fake event sink) or ``limiter``; the
process entry point (:func:`main`) builds the real ones from settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator

from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.app import create_service_app, serve
from cachalot_common.asyncapi import Produced
from cachalot_common.broker_acks import ack_check
from cachalot_common.events import ContactSubmitted
from cachalot_common.health import ReadinessCheck, declared_dependencies
from cachalot_common.logging import setup_logging
from cachalot_common.outbox import OutboxRelay, Publish
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import setup_tracing
from cachalot_common.topics import CONTACT_SUBMITTED
from cachalot_contact.api import install_routes
from cachalot_contact.cursor import CursorFile
from cachalot_contact.intake import Intake
from cachalot_contact.log import ContactLog
from cachalot_contact.ratelimit import RateLimiter
from cachalot_contact.relay import (
    BrokerEventPublisher,
    KafkaEventPublisher,
    LogSource,
    connect_then_run,
    kafka_publisher,
    log_relay,
    probe_bootstrap,
)
from cachalot_contact.relay_process import RelayProcess
from cachalot_contact.settings import ContactSettings

SERVICE = "contact"
KafkaPublisher = KafkaEventPublisher | BrokerEventPublisher
RELAY_DRAIN_S = 3.0
logger = logging.getLogger(__name__)


def create_app(
    settings: ContactSettings,
    *,
    publisher: Publish | None = None,
    limiter: RateLimiter | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The contact app. Without ``publisher`` (``publish(topic, key, payload)``, awaiting the
    broker's ack) the relay publishes to the configured Kafka.

    The relay runs where ``CACHALOT_CONTACT_RELAY`` says (a child process by
    default); a ``publisher`` given in code always runs it inline.
    """
    log = ContactLog(settings.log_path)
    limiter = limiter or RateLimiter(settings.rate_limits(), settings.rate_limit_storage)
    readiness: dict[str, ReadinessCheck] = {
        "log": lambda: _log_writable(log, settings),
        "rate_limit_store": limiter.healthy,
    }
    # The form takes submissions whatever Kafka does: they wait in the durable log, so
    # the broker and the relay are dependencies reported, not reasons to refuse traffic
    # (issue 13 item 6; the CachalotDependencyDown alert tells the operator).
    dependencies: dict[str, ReadinessCheck] = {}
    mode = "inline" if publisher is not None else settings.contact_relay
    kafka: KafkaPublisher | None = None
    child: RelayProcess | None = None
    if mode == "inline":
        check = None
        if publisher is None:
            kafka = kafka_publisher(settings, client_id=SERVICE, tracer_provider=tracer_provider)
            publisher = kafka
            check = ack_check(settings)  # acknowledgements read back (issue 11)
        relay: OutboxRelay | None = log_relay(
            LogSource(log, CursorFile(settings.cursor_path)), publisher, check=check
        )
        inline = relay
        dependencies = declared_dependencies(
            outbox=lambda: inline, own={"broker": kafka.ready} if kafka is not None else None
        )
    else:
        relay = None
        if mode == "process":
            child = RelayProcess(settings)
            running = child
            dependencies = declared_dependencies(
                own={
                    "relay": lambda: running.publishing(log.durable_offset),
                    "broker": lambda: _reachable(settings.kafka_bootstrap),
                }
            )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await log.open()
        relay_task: asyncio.Task[None] | None = None
        if relay is not None:
            connect = kafka.connect if kafka is not None else _connected
            relay_task = asyncio.create_task(connect_then_run(relay, connect), name="contact-relay")
        elif child is not None:
            child.start()
        else:
            logger.warning(
                "CACHALOT_CONTACT_RELAY=external: not publishing here; "
                "run `python -m cachalot_contact relay` beside this service"
            )
        try:
            yield
        finally:
            await log.close()
            if relay is not None and relay_task is not None:
                await relay.stop(relay_task, RELAY_DRAIN_S)
            if child is not None:
                await child.stop()
            if kafka is not None:
                await kafka.close()

    app = create_service_app(
        title="cachalot-contact",
        settings=settings,
        lifespan=lifespan,  # type: ignore[arg-type]
        readiness=readiness,
        dependencies=dependencies,
        tracer_provider=tracer_provider,
        description="Public contact form: validated, rate limited, logged durably, relayed.",
        produces=[
            Produced(CONTACT_SUBMITTED, ContactSubmitted, "A contact form message (relayed log).")
        ],
    )
    install_routes(app, settings, Intake(log), limiter)
    return app


async def _log_writable(log: ContactLog, settings: ContactSettings) -> bool:
    return log.writable and os.access(settings.contact_log_dir, os.W_OK)


async def _connected() -> None:
    """A publisher given in code needs no connection."""


async def _reachable(bootstrap: str) -> bool:
    """A bootstrap server accepts connections (the relay child holds the Kafka client)."""
    try:
        await probe_bootstrap(bootstrap)
    except ConnectionError:
        return False
    return True


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
    serve(app, settings)  # freezes what was built so far (cachalot_common.app.tune_gc)


if __name__ == "__main__":
    main()
