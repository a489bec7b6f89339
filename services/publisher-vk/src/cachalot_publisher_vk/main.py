"""Composition root: VK's steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings. ``python -m
cachalot_publisher_vk`` serves; ``… migrate`` only runs the migrations.
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
from cachalot_publisher_vk.publisher import VKPlatform
from cachalot_publisher_vk.settings import Settings
from cachalot_publisher_vk.store import WallPostStore
from cachalot_publisher_vk.vk import VKApi
from cachalot_publishing.app import PublisherParts, build_publisher_app
from cachalot_publishing.results import ResultSink

ALEMBIC_DIR = Path(__file__).parent / "alembic"
SERVICE = "publisher-vk"


def create_app(
    settings: Settings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.vk.v1`` in group ``publisher-vk``."""
    engine = create_engine(settings.database_url)

    @contextlib.asynccontextmanager
    async def make_publisher(_: PublisherParts) -> AsyncIterator[VKPlatform]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        timeout = httpx.Timeout(settings.vk_request_timeout_s, connect=10.0)
        limits = httpx.Limits(max_connections=settings.publish_concurrency * 2)
        try:
            async with httpx.AsyncClient(
                timeout=timeout, limits=limits, follow_redirects=False
            ) as http:
                if tracer_provider is not None:
                    instrument_httpx_client(http, tracer_provider)
                yield VKPlatform(
                    store=WallPostStore(session_factory(engine)),
                    api=VKApi(
                        http,
                        api_base=settings.vk_api_base,
                        version=settings.vk_api_version,
                        requests_per_second=settings.vk_requests_per_second,
                        upload_timeout_s=settings.vk_upload_timeout_s,
                    ),
                )
        finally:
            await engine.dispose()

    return build_publisher_app(
        settings,
        platform="vk",
        label="VK",
        make_publisher=make_publisher,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
        readiness={"database": database_check(engine)},
        description="Publishes queued videos, photo posts and articles to VK walls.",
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
