"""Telegram: Login Widget data verified with the bot token; channel admin checks.

Telegram has no user token to hold: posting uses our bot. Signing in only
proves who the person is (HMAC-SHA256 keyed with SHA-256(bot token), as
core.telegram.org/widgets/login documents); linking a channel checks with
the Bot API that our bot is an administrator allowed to post there.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from cachalot_auth.providers.base import HttpCaller, PlatformOAuthError

WIDGET_FIELDS = ("id", "first_name", "last_name", "username", "photo_url", "auth_date")


@dataclass(frozen=True, slots=True)
class TelegramUser:
    id: str
    display_name: str


def verify_widget(data: Mapping[str, str], *, bot_token: str, max_age_s: int) -> TelegramUser:
    """Check the widget's ``hash`` and freshness; raise ``PlatformOAuthError`` if wrong."""
    received = data.get("hash", "")
    fields = {k: v for k, v in data.items() if k in WIDGET_FIELDS}
    if not received or "id" not in fields or "auth_date" not in fields:
        raise PlatformOAuthError("invalid_request", "Telegram login data is incomplete")
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hashlib.sha256(bot_token.encode()).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, received.lower()):
        raise PlatformOAuthError(
            "invalid_signature", "Telegram login data is not signed by Telegram"
        )
    try:
        age = time.time() - int(fields["auth_date"])
    except ValueError:
        raise PlatformOAuthError("invalid_request", "auth_date is not a number") from None
    if age > max_age_s or age < -60:
        raise PlatformOAuthError("expired", "Telegram login data is too old; sign in again")
    name = " ".join(p for p in (fields.get("first_name"), fields.get("last_name")) if p)
    if fields.get("username"):
        name = name or f"@{fields['username']}"
    return TelegramUser(id=fields["id"], display_name=name or fields["id"])


class BotApi:
    """The few Bot API calls linking a channel needs."""

    def __init__(self, http: HttpCaller, *, api_base: str, bot_token: str) -> None:
        self._http = http
        self._base = f"{api_base.rstrip('/')}/bot{bot_token}"

    async def _call(self, method: str, params: Mapping[str, str]) -> object:
        def parse(response: httpx.Response) -> object:
            try:
                body = response.json()
            except ValueError:
                body = {}
            if not isinstance(body, dict) or not body.get("ok"):
                description = str(body.get("description", "")) if isinstance(body, dict) else ""
                raise PlatformOAuthError("telegram_error", description[:200])
            return body.get("result")

        url = f"{self._base}/{method}"
        return await self._http.call(lambda c: c.post(url, data=dict(params)), parse)

    async def channel_title(self, chat_id: str) -> str | None:
        result = await self._call("getChat", {"chat_id": chat_id})
        if isinstance(result, dict):
            title = result.get("title") or result.get("username")
            return str(title) if title else None
        return None

    async def bot_id(self) -> str:
        result = await self._call("getMe", {})
        if not isinstance(result, dict) or "id" not in result:
            raise PlatformOAuthError("telegram_error", "getMe gave no id")
        return str(result["id"])

    async def bot_can_post(self, chat_id: str) -> bool:
        """True when our bot administers ``chat_id`` with the right to post."""
        member = await self._call(
            "getChatMember", {"chat_id": chat_id, "user_id": await self.bot_id()}
        )
        if not isinstance(member, dict):
            return False
        if member.get("status") == "creator":
            return True
        return member.get("status") == "administrator" and member.get("can_post_messages", True)

    async def user_is_admin(self, chat_id: str, user_id: str) -> bool:
        """True when the signing-in person administers the channel too."""
        member = await self._call("getChatMember", {"chat_id": chat_id, "user_id": user_id})
        return isinstance(member, dict) and member.get("status") in ("creator", "administrator")
