"""Telegram: Login Widget data verified with the bot token; channel admin checks.

Telegram has no user token to hold: posting uses our bot. Signing in only
proves who the person is (HMAC-SHA256 keyed with SHA-256(bot token), as
core.telegram.org/widgets/login documents); linking a channel checks with
the Bot API that our bot is an administrator allowed to post there and that
the person runs it, and keeps the channel's numeric id (``getChat``), since
an @username can be changed or given away.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from cachalot_auth.providers.base import HttpCaller, PlatformOAuthError
from cachalot_common.untrusted import same_secret

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
    if not same_secret(received.lower(), expected):
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


@dataclass(frozen=True, slots=True)
class TelegramChannel:
    id: str
    """The numeric ``-100…`` id, whatever the person typed."""
    title: str | None


class ChannelNotUsable(Exception):
    """Linking is refused for a reason the person can fix; ``str()`` says how."""


# What Telegram answers when our bot is not inside the channel to look.
_BOT_OUTSIDE = (
    "bot is not a member of the channel chat",
    "bot was kicked from the channel chat",
    "member list is inaccessible",
)


class BotApi:
    """The few Bot API calls linking a channel needs."""

    def __init__(self, http: HttpCaller, *, api_base: str, bot_token: str) -> None:
        self._http = http
        self._base = f"{api_base.rstrip('/')}/bot{bot_token}"
        self.username: str | None = None
        """Our bot's @username (without @), learnt from ``getMe``."""

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

    async def bot_id(self) -> str:
        result = await self._call("getMe", {})
        if not isinstance(result, dict) or "id" not in result:
            raise PlatformOAuthError("telegram_error", "getMe gave no id")
        if isinstance(result.get("username"), str):
            self.username = result["username"]
        return str(result["id"])

    def fix(self) -> str:
        """What the person must do so that our bot may post in their channel."""
        bot = f"@{self.username}" if self.username else "our bot"
        return f"add {bot} as an administrator of the channel with the right to post messages"

    async def check_channel(self, chat_id: str, user_id: str) -> TelegramChannel:
        """The channel ``chat_id`` names, once our bot may post there and ``user_id`` runs it.

        Raises :class:`ChannelNotUsable` with what the person should do;
        other Bot API errors raise ``PlatformOAuthError``.
        """
        bot_id = await self.bot_id()  # first: its @username goes into the reasons
        chat = await self._resolve(chat_id)
        numeric = str(chat["id"])
        bot = await self._member(numeric, bot_id, refusals=_BOT_OUTSIDE)
        if bot.get("status") != "creator" and (
            bot.get("status") != "administrator" or bot.get("can_post_messages") is not True
        ):
            raise ChannelNotUsable(
                f"our bot may not post in that channel: {self.fix()}, then try again"
                if bot.get("status") == "administrator"
                else f"our bot is not an administrator of that channel: {self.fix()}, "
                "then try again"
            )
        person = await self._member(numeric, user_id, refusals=("user not found",))
        if person.get("status") not in ("creator", "administrator"):
            raise ChannelNotUsable("you are not an administrator of that channel")
        title = chat.get("title") or chat.get("username")
        return TelegramChannel(id=numeric, title=str(title) if title else None)

    async def _resolve(self, chat_id: str) -> dict[str, object]:
        """``getChat``: the channel's numeric id (an @username can change hands) and title."""
        try:
            chat = await self._call("getChat", {"chat_id": chat_id})
        except PlatformOAuthError as error:
            if "chat not found" in error.description:
                raise ChannelNotUsable(
                    f"Telegram knows no channel {chat_id}: check the id or @username "
                    f"(for a private channel, {self.fix()} first)"
                ) from None
            raise
        if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
            raise PlatformOAuthError("telegram_error", "getChat gave no chat id")
        if chat.get("type") != "channel":
            raise ChannelNotUsable(f"{chat_id} is a {chat.get('type')} chat, not a channel")
        return chat

    async def _member(
        self, chat_id: str, user_id: str, *, refusals: tuple[str, ...]
    ) -> dict[str, object]:
        """``getChatMember``; the listed Telegram refusals count as "not a member"."""
        try:
            member = await self._call("getChatMember", {"chat_id": chat_id, "user_id": user_id})
        except PlatformOAuthError as error:
            if any(r in error.description for r in refusals):
                return {"status": "left"}
            raise
        return member if isinstance(member, dict) else {"status": "left"}
