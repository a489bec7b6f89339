"""Composition root: Telegram's steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings. ``python -m
cachalot_publisher_telegram`` serves; ``… migrate`` only runs the migrations;
``… telegraph-account`` makes the project's Telegraph account and prints its
access token once (to put in ``CACHALOT_TELEGRAPH_ACCESS_TOKEN``).
"""

from __future__ import annotations

import asyncio
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
from cachalot_publisher_telegram.links import AuthChannelReports, ChannelReports
from cachalot_publisher_telegram.publisher import TelegramPlatform
from cachalot_publisher_telegram.settings import Settings
from cachalot_publisher_telegram.store import PostStore
from cachalot_publisher_telegram.telegram import BotApi
from cachalot_publisher_telegram.telegraph import Telegraph
from cachalot_publishing.app import PublisherParts, build_publisher_app
from cachalot_publishing.results import ResultSink

ALEMBIC_DIR = Path(__file__).parent / "alembic"
SERVICE = "publisher-telegram"


def create_app(
    settings: Settings,
    *,
    leases: LeaseSource | None = None,
    results: ResultSink | None = None,
    reports: ChannelReports | None = None,
    tracer_provider: TracerProvider | None = None,
) -> FastAPI:
    """The publisher: consumes ``posts.publish.telegram.v1`` in group ``publisher-telegram``.

    ``reports`` replaces auth's channel-report endpoint (tests)."""
    engine = create_engine(settings.database_url)

    @contextlib.asynccontextmanager
    async def make_publisher(_: PublisherParts) -> AsyncIterator[TelegramPlatform]:
        if settings.auto_migrate:
            await run_migrations_async(ALEMBIC_DIR, settings.database_url)
        timeout = httpx.Timeout(settings.telegram_request_timeout_s, connect=10.0)
        limits = httpx.Limits(max_connections=settings.publish_concurrency * 2)
        try:
            async with httpx.AsyncClient(
                timeout=timeout, limits=limits, follow_redirects=False
            ) as http:
                if tracer_provider is not None:
                    instrument_httpx_client(http, tracer_provider)
                yield TelegramPlatform(
                    store=PostStore(session_factory(engine)),
                    bot=BotApi(
                        http,
                        api_base=settings.telegram_api_base,
                        bot_token=settings.telegram_bot_token.get_secret_value(),
                        read_bytes=settings.telegram_read_bytes,
                    ),
                    telegraph=Telegraph(
                        http,
                        api_base=settings.telegraph_api_base,
                        access_token=settings.telegraph_access_token.get_secret_value(),
                        author_name=settings.telegraph_author_name,
                    ),
                    reports=reports
                    or AuthChannelReports(
                        http,
                        auth_url=settings.auth_url,
                        service=settings.service_name,
                        secret=settings.service_secret.get_secret_value(),
                    ),
                    bot_username=settings.telegram_bot_username or None,
                    attempts=settings.telegram_attempts,
                )
        finally:
            await engine.dispose()

    return build_publisher_app(
        settings,
        platform="telegram",
        label="Telegram",
        make_publisher=make_publisher,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
        readiness={"database": database_check(engine)},
        description="Publishes queued posts to the client's linked Telegram channel.",
    )


async def _telegraph_account(settings: Settings) -> str:
    async with httpx.AsyncClient(timeout=30.0) as http:
        telegraph = Telegraph(
            http, api_base=settings.telegraph_api_base, author_name=settings.telegraph_author_name
        )
        return await telegraph.create_account()


def main() -> None:
    settings = load_settings(Settings, SERVICE)
    setup_logging(SERVICE, level=settings.log_level, fmt=settings.log_format)
    register_secret(settings.service_secret.get_secret_value())
    register_secret(settings.telegram_bot_token.get_secret_value())
    register_secret(settings.telegraph_access_token.get_secret_value())
    if sys.argv[1:] == ["migrate"]:
        run_migrations(ALEMBIC_DIR, settings.database_url)
        return
    if sys.argv[1:] == ["telegraph-account"]:  # printed once, for the operator to keep
        sys.stdout.write(asyncio.run(_telegraph_account(settings)) + "\n")
        return
    provider = setup_tracing(SERVICE, otlp_endpoint=settings.otlp_endpoint)
    serve(create_app(settings, tracer_provider=provider), settings)


if __name__ == "__main__":
    main()
