"""Composition root: Telegram's steps on the shared publishing runtime.

``python -m cachalot_publisher_telegram`` serves; ``… migrate`` only runs the
migrations; ``… telegraph-account`` makes the project's Telegraph account and
prints its access token once (to put in ``CACHALOT_TELEGRAPH_ACCESS_TOKEN``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from pathlib import Path

import httpx

from cachalot_common.chat_waits import SqlChatWaits
from cachalot_common.db import session_factory
from cachalot_common.telegram_api import ChatWaits
from cachalot_publisher_telegram.links import AuthChannelReports
from cachalot_publisher_telegram.models import chat_waits
from cachalot_publisher_telegram.publisher import TelegramPlatform
from cachalot_publisher_telegram.settings import Settings
from cachalot_publisher_telegram.store import PostStore
from cachalot_publisher_telegram.telegram import BotApi
from cachalot_publisher_telegram.telegraph import Telegraph
from cachalot_publishing.app import PlatformWiring, PublisherService

ALEMBIC_DIR = Path(__file__).parent / "alembic"


def build(settings: Settings, wiring: PlatformWiring) -> TelegramPlatform:
    """Telegram's steps over the service's database and HTTP client (the Bot API,
    Telegraph, and auth's channel reports)."""
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
        reports=AuthChannelReports(
            http,
            auth_url=settings.auth_url,
            service=settings.service_name,
            secret=settings.service_secret.get_secret_value(),
        ),
        bot_username=settings.telegram_bot_username or None,
        attempts=settings.telegram_attempts,
        person_check_s=settings.telegram_person_check_s,
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


def _secrets(settings: Settings) -> Iterable[str]:
    return (
        settings.telegram_bot_token.get_secret_value(),
        settings.telegraph_access_token.get_secret_value(),
    )


PUBLISHER = PublisherService(
    platform="telegram",
    settings=Settings,
    description="Publishes queued posts to the client's linked Telegram channel.",
    alembic_dir=ALEMBIC_DIR,
    request_timeout_s=lambda settings: settings.telegram_request_timeout_s,
    build=build,
    secrets=_secrets,
    commands={"telegraph-account": _print_telegraph_account},
)
create_app = PUBLISHER.create_app
main = PUBLISHER.main

if __name__ == "__main__":
    main()
