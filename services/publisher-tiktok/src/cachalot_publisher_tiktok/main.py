"""Composition root: the TikTok steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings.
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
)
from cachalot_common.leases import LeaseSource
from cachalot_common.logging import setup_logging
from cachalot_common.redaction import register_secret
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import instrument_httpx_client, setup_tracing
from cachalot_publisher_tiktok.limiter import AccountLimiter
from cachalot_publisher_tiktok.publisher import TikTokPlatform
from cachalot_publisher_tiktok.sessions import SessionStore
from cachalot_publisher_tiktok.settings import PublisherSettings
from cachalot_publisher_tiktok.tiktok import TikTokClient
from cachalot_publishing.app import PublisherParts, build_publisher_app
from cachalot_publishing.http import platform_http_client
from cachalot_publishing.results import ResultSink

SERVICE = "publisher-tiktok"
ALEMBIC_DIR = Path(__file__).parent / "alembic"


def create_app(
    settings: PublisherSettings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.tiktok.v1`` in group ``publisher-tiktok``."""
    engine = create_engine(settings.database_url)
    limiter = AccountLimiter(
        {
            "creator_info": settings.tiktok_creator_info_per_minute,
            "init": settings.tiktok_init_per_minute,
            "status": settings.tiktok_status_per_minute,
        }
    )

    @contextlib.asynccontextmanager
    async def make_publisher(_: PublisherParts) -> AsyncIterator[TikTokPlatform]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        timeout = httpx.Timeout(settings.tiktok_http_timeout_s, connect=10.0)
        try:
            async with platform_http_client(
                timeout=timeout, max_connections=settings.publish_concurrency * 2
            ) as http:
                if tracer_provider is not None:
                    instrument_httpx_client(http, tracer_provider)
                yield TikTokPlatform(
                    settings=settings,
                    tiktok=TikTokClient(http, settings.tiktok_api_base),
                    sessions=SessionStore(engine),
                    limiter=limiter,
                )
        finally:
            await engine.dispose()

    return build_publisher_app(
        settings,
        platform="tiktok",
        label="TikTok",
        make_publisher=make_publisher,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
        readiness={"database": database_check(engine)},
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
