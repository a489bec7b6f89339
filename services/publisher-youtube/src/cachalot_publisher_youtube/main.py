"""Composition root: settings → engine, broker, HTTP clients, lease client → app.

``create_app(settings, leases=…, http_client=…)`` is where tests pass their
own adapters; nothing is built at import time. ``python -m
cachalot_publisher_youtube`` serves; ``… migrate`` only runs the migrations.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
from cachalot_common.leases import LeaseClient, LeaseSource
from cachalot_common.logging import setup_logging
from cachalot_common.metrics import timed_publishing
from cachalot_common.redaction import register_secret
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import instrument_httpx_client, setup_tracing
from cachalot_common.topics import publish_topic
from cachalot_publisher_youtube.publisher import RetryPolicy, YouTubePublisher
from cachalot_publisher_youtube.results import KafkaResults
from cachalot_publisher_youtube.settings import Settings
from cachalot_publisher_youtube.store import UploadStore
from cachalot_publisher_youtube.youtube import YouTubeUploads

ALEMBIC_DIR = Path(__file__).parent / "alembic"
SERVICE = "publisher-youtube"


def create_app(
    settings: Settings,
    *,
    leases: LeaseSource | None = None,
    http_client: httpx.AsyncClient | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """Build the service; ``leases`` and ``http_client`` replace the real adapters."""
    provider = tracer_provider or setup_tracing(SERVICE, otlp_endpoint=settings.otlp_endpoint)
    engine = create_engine(settings.database_url)
    broker = build_broker(settings, client_id=settings.service_name, tracer_provider=provider)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        platform = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.youtube_request_timeout_s, connect=10.0),
            follow_redirects=False,
        )
        instrument_httpx_client(platform, provider)
        auth_http = httpx.AsyncClient(timeout=30.0)
        lease_source = leases or LeaseClient(
            base_url=settings.auth_url,
            service=settings.service_name,
            secret=settings.service_secret.get_secret_value(),
            client=auth_http,
        )
        publisher = YouTubePublisher(
            store=UploadStore(session_factory(engine)),
            leases=lease_source,
            uploads=YouTubeUploads(
                platform,
                api_base=settings.youtube_api_base,
                read_bytes=settings.youtube_read_bytes,
            ),
            results=KafkaResults(broker),
            media_dir=settings.media_dir,
            chunk_bytes=settings.youtube_chunk_bytes,
            progress_every_s=settings.youtube_progress_every_s,
            retry=RetryPolicy(
                attempts=settings.youtube_attempts,
                initial_s=settings.youtube_backoff_initial_s,
                max_s=settings.youtube_backoff_max_s,
                max_inline_wait_s=settings.youtube_max_inline_wait_s,
            ),
        )
        subscribe(
            broker,
            publish_topic("youtube"),
            PublishVideo,
            timed_publishing("youtube", publisher.handle),
            group_id=settings.service_name,
            max_poll_interval_ms=settings.kafka_max_poll_interval_s * 1000,
            **consumer_options(settings),
        )
        await start_broker(broker)
        try:
            yield
        finally:
            await broker.stop()
            await auth_http.aclose()
            if http_client is None:
                await platform.aclose()
            await engine.dispose()

    return create_service_app(
        title="cachalot-publisher-youtube",
        settings=settings,
        lifespan=lifespan,
        readiness={"kafka": broker_check(broker), "database": database_check(engine)},
        tracer_provider=provider,
        description="Publishes queued videos to YouTube by resumable upload.",
    )


def main() -> None:
    settings = load_settings(Settings, SERVICE)
    setup_logging(SERVICE, level=settings.log_level, fmt=settings.log_format)
    register_secret(settings.service_secret.get_secret_value())
    if sys.argv[1:] == ["migrate"]:
        run_migrations(ALEMBIC_DIR, settings.database_url)
        return
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
