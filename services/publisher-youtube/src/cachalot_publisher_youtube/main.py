"""Composition root: the YouTube steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings. ``python -m
cachalot_publisher_youtube`` serves; ``… migrate`` only runs the migrations.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.app import serve
from cachalot_common.db import (
    create_engine,
    database_check,
    run_migrations,
    run_migrations_async,
    session_factory,
)
from cachalot_common.leases import LeaseSource
from cachalot_common.logging import setup_logging
from cachalot_common.redaction import register_secret
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import instrument_httpx_client, setup_tracing
from cachalot_publisher_youtube.publisher import RetryPolicy, YouTubePlatform
from cachalot_publisher_youtube.settings import Settings
from cachalot_publisher_youtube.store import UploadStore
from cachalot_publisher_youtube.youtube import YouTubeUploads
from cachalot_publishing.app import PublisherParts, build_publisher_app
from cachalot_publishing.http import platform_http_client
from cachalot_publishing.results import ResultSink

ALEMBIC_DIR = Path(__file__).parent / "alembic"
SERVICE = "publisher-youtube"


def create_app(
    settings: Settings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.youtube.v1`` in group ``publisher-youtube``."""
    engine = create_engine(settings.database_url)

    @contextlib.asynccontextmanager
    async def make_publisher(_: PublisherParts) -> AsyncIterator[YouTubePlatform]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        timeout = httpx.Timeout(settings.youtube_request_timeout_s, connect=10.0)
        try:
            async with platform_http_client(
                timeout=timeout, max_connections=settings.publish_concurrency * 2
            ) as http:
                if tracer_provider is not None:
                    instrument_httpx_client(http, tracer_provider)
                yield YouTubePlatform(
                    store=UploadStore(session_factory(engine)),
                    uploads=YouTubeUploads(
                        http,
                        api_base=settings.youtube_api_base,
                        read_bytes=settings.youtube_read_bytes,
                    ),
                    chunk_bytes=settings.youtube_chunk_bytes,
                    retry=RetryPolicy(
                        attempts=settings.youtube_attempts,
                        initial_s=settings.youtube_backoff_initial_s,
                        max_s=settings.youtube_backoff_max_s,
                    ),
                    record_progress_every_s=settings.publish_progress_interval_s,
                )
        finally:
            await engine.dispose()

    return build_publisher_app(
        settings,
        platform="youtube",
        label="YouTube",
        make_publisher=make_publisher,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
        readiness={"database": database_check(engine)},
        description="Publishes queued videos to YouTube by resumable upload.",
    )


def main() -> None:
    settings = load_settings(Settings, SERVICE)
    setup_logging(SERVICE, level=settings.log_level, fmt=settings.log_format)
    register_secret(settings.service_secret.get_secret_value())
    if sys.argv[1:] == ["migrate"]:
        run_migrations(ALEMBIC_DIR, settings.database_url)
        return
    provider = setup_tracing(SERVICE, otlp_endpoint=settings.otlp_endpoint)
    serve(create_app(settings, tracer_provider=provider), settings)


if __name__ == "__main__":
    main()
