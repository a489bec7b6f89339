"""Composition root: the Instagram steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings. ``python -m
cachalot_publisher_instagram`` serves; ``… migrate`` only runs the migrations.
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
from cachalot_publisher_instagram.graph import InstagramGraph
from cachalot_publisher_instagram.publisher import InstagramPlatform, Polling
from cachalot_publisher_instagram.settings import Settings
from cachalot_publisher_instagram.store import ContainerStore
from cachalot_publishing.app import PublisherParts, build_publisher_app
from cachalot_publishing.results import ResultSink

ALEMBIC_DIR = Path(__file__).parent / "alembic"
SERVICE = "publisher-instagram"


def create_app(
    settings: Settings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.instagram.v1`` in group ``publisher-instagram``."""
    engine = create_engine(settings.database_url)

    @contextlib.asynccontextmanager
    async def make_publisher(_: PublisherParts) -> AsyncIterator[InstagramPlatform]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        timeout = httpx.Timeout(settings.instagram_request_timeout_s, connect=10.0)
        limits = httpx.Limits(max_connections=settings.publish_concurrency * 2)
        try:
            async with httpx.AsyncClient(
                timeout=timeout, limits=limits, follow_redirects=False
            ) as http:
                if tracer_provider is not None:
                    instrument_httpx_client(http, tracer_provider)
                yield InstagramPlatform(
                    store=ContainerStore(session_factory(engine)),
                    graph=InstagramGraph(http, api_base=settings.instagram_api_base),
                    polling=Polling(
                        interval_s=settings.instagram_poll_interval_s,
                        max_s=settings.instagram_poll_max_s,
                    ),
                    quota_retry_s=settings.instagram_quota_retry_s,
                )
        finally:
            await engine.dispose()

    return build_publisher_app(
        settings,
        platform="instagram",
        label="Instagram",
        make_publisher=make_publisher,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
        readiness={"database": database_check(engine)},
        description="Publishes queued Reels, images and carousels to Instagram.",
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
