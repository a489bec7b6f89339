"""Composition root: database, HTTP clients, lease source, broker, consumer.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.app import create_service_app, serve
from cachalot_common.db import (
    create_engine,
    database_check,
    run_migrations,
    run_migrations_async,
    session_factory,
)
from cachalot_common.events import PublishVideo
from cachalot_common.health import broker_check
from cachalot_common.kafka import build_broker, consumer_options, start_broker, subscribe
from cachalot_common.leases import LeaseClient
from cachalot_common.logging import setup_logging
from cachalot_common.metrics import timed_publishing
from cachalot_common.redaction import register_secret
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import instrument_httpx_client, setup_tracing
from cachalot_common.topics import publish_topic
from cachalot_publisher_tiktok.limiter import AccountLimiter
from cachalot_publisher_tiktok.ports import KafkaResults, LeaseSource, ResultSink
from cachalot_publisher_tiktok.publisher import TikTokPublisher
from cachalot_publisher_tiktok.sessions import SessionStore
from cachalot_publisher_tiktok.settings import PublisherSettings
from cachalot_publisher_tiktok.tiktok import TikTokClient

SERVICE = "publisher-tiktok"
ALEMBIC_DIR = Path(__file__).parent / "alembic"
logger = logging.getLogger(__name__)


def create_app(
    settings: PublisherSettings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.tiktok.v1`` in group ``publisher-tiktok``."""
    engine = create_engine(settings.database_url)
    broker = build_broker(settings, client_id=SERVICE, tracer_provider=tracer_provider)
    sink = results or KafkaResults(broker)
    limiter = AccountLimiter(
        {
            "creator_info": settings.tiktok_creator_info_per_minute,
            "init": settings.tiktok_init_per_minute,
            "status": settings.tiktok_status_per_minute,
        }
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        timeout = httpx.Timeout(settings.tiktok_http_timeout_s, connect=10.0)
        async with httpx.AsyncClient(timeout=timeout) as http:
            if tracer_provider is not None:
                instrument_httpx_client(http, tracer_provider)
            source = leases or LeaseClient(
                base_url=settings.auth_url,
                service=settings.service_name,
                secret=settings.service_secret.get_secret_value(),
                client=http,
            )
            publisher = TikTokPublisher(
                settings=settings,
                tiktok=TikTokClient(http, settings.tiktok_api_base),
                leases=source,
                sessions=SessionStore(session_factory(engine)),
                results=sink,
                limiter=limiter,
            )
            subscribe(
                broker,
                publish_topic("tiktok"),
                PublishVideo,
                timed_publishing("tiktok", publisher.handle),
                group_id=SERVICE,
                max_poll_interval_ms=settings.kafka_max_poll_interval_ms,
                **consumer_options(settings),
            )
            await start_broker(broker)
            try:
                yield
            finally:
                await broker.stop()
        await engine.dispose()

    return create_service_app(
        title="cachalot-publisher-tiktok",
        settings=settings,
        lifespan=lifespan,  # type: ignore[arg-type]
        readiness={"broker": broker_check(broker), "database": database_check(engine)},
        tracer_provider=tracer_provider,
        description="Publishes queued videos to TikTok (Direct Post, chunked upload).",
    )


def main() -> None:
    """``python -m cachalot_publisher_tiktok`` serves; ``… migrate`` only migrates."""
    settings = load_settings(PublisherSettings, "cachalot-publisher-tiktok")
    setup_logging(SERVICE, level=settings.log_level, fmt=settings.log_format)
    register_secret(settings.service_secret.get_secret_value())
    if sys.argv[1:] == ["migrate"]:
        run_migrations(ALEMBIC_DIR, settings.database_url)
        return
    provider = setup_tracing(SERVICE, otlp_endpoint=settings.otlp_endpoint)
    serve(create_app(settings, tracer_provider=provider), settings)


if __name__ == "__main__":
    main()
