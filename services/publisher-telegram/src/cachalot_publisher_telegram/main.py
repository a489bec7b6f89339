"""Composition root: Telegram's steps on the shared publishing runtime.

Tests pass their own ``leases`` (a stand-in for the auth service) or
``results`` sink; :func:`main` builds the real ones from settings. ``python -m
cachalot_publisher_telegram`` serves; ``… migrate`` only runs the migrations;
``… telegraph-account`` makes the project's Telegraph account and prints its
access token once (to put in ``CACHALOT_TELEGRAPH_ACCESS_TOKEN``).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.chat_waits import SqlChatWaits
from cachalot_common.db import session_factory
from cachalot_common.leases import LeaseSource
from cachalot_common.telegram_api import ChatWaits
from cachalot_publisher_telegram.links import AuthChannelReports, ChannelReports
from cachalot_publisher_telegram.models import chat_waits
from cachalot_publisher_telegram.publisher import TelegramPlatform
from cachalot_publisher_telegram.settings import Settings
from cachalot_publisher_telegram.store import PostStore
from cachalot_publisher_telegram.telegram import BotApi
from cachalot_publisher_telegram.telegraph import Telegraph
from cachalot_publishing.app import PlatformWiring, create_database_publisher, publisher_main
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

    def build(wiring: PlatformWiring) -> TelegramPlatform:
        http = wiring.http
        return TelegramPlatform(
            store=PostStore(session_factory(wiring.engine)),
            bot=BotApi(
                http,
                api_base=settings.telegram_api_base,
                bot_token=settings.telegram_bot_token.get_secret_value(),
                read_bytes=settings.telegram_read_bytes,
                # a 429 holds the channel for every replica: the wait is kept in the database
                waits=ChatWaits(shared=SqlChatWaits(session_factory(wiring.engine), chat_waits)),
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
            person_check_s=settings.telegram_person_check_s,
        )

    return create_database_publisher(
        settings,
        platform="telegram",
        label="Telegram",
        description="Publishes queued posts to the client's linked Telegram channel.",
        alembic_dir=ALEMBIC_DIR,
        http_timeout_s=settings.telegram_request_timeout_s,
        build=build,
        leases=leases,
        results=results,
        tracer_provider=tracer_provider,
    )


async def _telegraph_account(settings: Settings) -> str:
    async with httpx.AsyncClient(timeout=30.0) as http:
        telegraph = Telegraph(
            http, api_base=settings.telegraph_api_base, author_name=settings.telegraph_author_name
        )
        return await telegraph.create_account()


def _print_telegraph_account(settings: Settings) -> None:
    """Printed once, for the operator to keep."""
    sys.stdout.write(asyncio.run(_telegraph_account(settings)) + "\n")


def main() -> None:
    publisher_main(
        SERVICE,
        Settings,
        create_app,
        ALEMBIC_DIR,
        secrets=lambda settings: (
            settings.telegram_bot_token.get_secret_value(),
            settings.telegraph_access_token.get_secret_value(),
        ),
        commands={"telegraph-account": _print_telegraph_account},
    )


if __name__ == "__main__":
    main()
