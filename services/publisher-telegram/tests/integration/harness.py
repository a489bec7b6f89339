"""Telegram's part of the publisher test harness (the rest: ``cachalot_testing.publisher``).

Auth's stand-in here also speaks the channel reports of
``cachalot_publisher_telegram.links``: leases carry the account's
``destination`` (the linked channel), and reports are recorded (a migration
moves the destination), so the publisher's real clients run over real HTTP.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from cachalot_common.events import Article, PostKind, PublishPost, TelegramOptions
from cachalot_testing.publisher import Commands as BaseCommands
from cachalot_testing.publisher import LeaseStandIn, sha256_of
from cachalot_testing.publisher import Results as BaseResults

__all__ = [
    "BOT_TOKEN",
    "BOT_USERNAME",
    "CHANNEL_ID",
    "PERSON",
    "SERVICE_SECRET",
    "AuthStandIn",
    "Commands",
    "Results",
    "sha256_of",
]

SERVICE = "publisher-telegram"
SERVICE_SECRET = "test-publisher-telegram-secret-0123456789"
BOT_TOKEN = "424242:AAtelegramTESTtelegramTESTtelegramTE"
BOT_USERNAME = "cachalot_sandbox_bot"
CHANNEL_ID = -1001000000001
PERSON = 700000001
"""The person who linked the channel (the leases' platform_user_id): its creator in every
channel set up here, unless a test says otherwise (the publisher checks it before posting)."""
OWNER = [{"user_id": PERSON, "status": "creator"}]


class AuthStandIn(LeaseStandIn):
    """Auth's lease and channel-report endpoints (the bot's token is the publisher's own)."""

    def __init__(self) -> None:
        super().__init__("", service=SERVICE, secret=SERVICE_SECRET, platform="telegram")
        self.destinations: dict[str, str] = {}
        self.languages: dict[str, str] = {}
        """The language of an account's client (auth's ``language``); absent: none said."""
        self.unlinked: set[str] = set()
        self.reports: list[dict[str, Any]] = []

    async def lease_body(
        self, account_id: str, body: dict[str, Any]
    ) -> dict[str, Any] | JSONResponse:
        if account_id in self.unlinked:
            return JSONResponse(
                {"code": "channel_not_linked", "detail": "link a channel first"},
                status_code=409,
            )
        return {
            "account_id": account_id,
            "platform": "telegram",
            "access_token": "",
            "expires_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
            "scopes": [],
            "platform_user_id": str(PERSON),
            "destination": self.destinations.get(account_id, str(CHANNEL_ID)),
            "language": self.languages.get(account_id),
        }

    def routes(self, app: FastAPI) -> None:
        @app.post("/internal/v1/accounts/{account_id}/telegram-channel")
        async def channel_report(account_id: str, request: Request) -> Response:
            refused = self.refused(request)
            if refused is not None:
                return refused
            body = await request.json()
            self.reports.append({"account_id": account_id, **body})
            if body["event"] == "migrated":
                self.destinations[account_id] = body["migrate_to_chat_id"]
            return Response(status_code=204)


class Results(BaseResults):
    """Results where a target's final is the last one seen."""

    async def final(
        self,
        target_id: uuid.UUID,
        attempt: int | None = None,
        *,
        timeout: float = 60.0,
        latest: bool = True,
    ) -> Any:
        return await super().final(target_id, attempt, timeout=timeout, latest=latest)


class Commands(BaseCommands):
    """``PublishPost`` commands for ``posts.publish.telegram.v1``."""

    def command(
        self,
        kind: PostKind,
        *,
        video: Path | None = None,
        images: tuple[Path, ...] = (),
        article: Article | None = None,
        **options: Any,
    ) -> PublishPost:
        return PublishPost(
            post_id=uuid.uuid4(),
            target_id=uuid.uuid4(),
            client_id=uuid.uuid4(),
            account_id=uuid.uuid4(),
            platform="telegram",
            attempt=1,
            kind=kind,
            media=self.ref(video, "video/mp4") if video else None,
            images=tuple(self.ref(p, "image/jpeg") for p in images),
            article=article,
            options=TelegramOptions(**options),
            grant=f"grant-{uuid.uuid4().hex}",  # the stand-in does not check it
        )
