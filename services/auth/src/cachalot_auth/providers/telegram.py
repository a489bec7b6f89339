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

from cachalot_auth.providers.base import HttpCaller, PlatformOAuthError, PlatformUnavailable
from cachalot_common.telegram_api import (
    BotApiError,
    BotApiErrorKind,
    ChatWaits,
    bot_api_result,
    may_post,
)
from cachalot_common.text import truncate
from cachalot_common.untrusted import same_secret

# Parameters our own callback URL carries (the widget's ``return_to`` is
# ``…/callback?state=…``); Telegram appends its fields to them and signs only its own.
OWN_PARAMS = frozenset({"state"})


@dataclass(frozen=True, slots=True)
class TelegramUser:
    id: str
    display_name: str


def data_check_string(data: Mapping[str, str]) -> str:
    """Telegram's data-check-string: every received field but ``hash``, sorted, ``key=value``
    lines joined by ``\\n`` (core.telegram.org/widgets/login, "Checking authorization").

    Every field Telegram sent is covered, known or not (``photo_url`` today, whatever it
    adds tomorrow), so a new field neither breaks sign-in nor rides along unsigned;
    only :data:`OWN_PARAMS`, which we put in the URL ourselves, are left out.
    """
    signed = sorted(k for k in data if k != "hash" and k not in OWN_PARAMS)
    return "\n".join(f"{k}={data[k]}" for k in signed)


def verify_widget(data: Mapping[str, str], *, bot_token: str, max_age_s: int) -> TelegramUser:
    """Check the widget's ``hash`` over every received field, and its freshness.

    ``data``: the callback's query (our ``state`` included). Raises
    ``PlatformOAuthError`` with ``invalid_request`` (no hash, id or auth_date),
    ``invalid_signature`` (hash wrong for these fields and our bot token) or
    ``expired`` (``auth_date`` older than ``max_age_s`` seconds).
    """
    received = data.get("hash", "")
    fields = {k: v for k, v in data.items() if k != "hash" and k not in OWN_PARAMS}
    if not received or "id" not in fields or "auth_date" not in fields:
        raise PlatformOAuthError("invalid_request", "Telegram login data is incomplete")
    secret = hashlib.sha256(bot_token.encode()).digest()
    expected = hmac.new(secret, data_check_string(data).encode(), hashlib.sha256).hexdigest()
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
    """Linking is refused for a reason the person can fix; ``str()`` says how (English, with
    the bot's @username), ``code`` which (``bot_cannot_post``, ``bot_not_admin``,
    ``not_channel_admin``, ``person_cannot_post``, ``channel_unknown``, ``not_a_channel``):
    pages word it by the code in their language (web/words.js, ``channel_<code>``);
    ``params`` the entry's extra keys (``channel`` as written)."""

    def __init__(self, message: str, code: str, **params: str) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class TelegramBusy(PlatformUnavailable):
    """Telegram answered 429: wait ``retry_after`` seconds (never retried sooner here)."""

    def __init__(self, retry_after: int | None) -> None:
        super().__init__(f"Telegram asks us to wait {retry_after or 'a few'} seconds")
        self.retry_after = retry_after


class TelegramRefused(PlatformOAuthError):
    """Any other ``ok: false`` answer; ``error`` holds it, classified by code."""

    def __init__(self, error: BotApiError) -> None:
        super().__init__("telegram_error", truncate(error.description, 200))
        self.error = error


class BotApi:
    """The few Bot API calls linking a channel needs.

    Answers are classified by ``error_code`` and ``parameters``
    (:mod:`cachalot_common.telegram_api`), never by their description. A 429
    is not retried on our own clock: it ends the call at once as
    :class:`TelegramBusy` carrying Telegram's ``retry_after`` (a person is
    waiting on the other end). That wait belongs to the chat
    (:class:`~cachalot_common.telegram_api.ChatWaits`): until it has passed,
    a call naming the chat ends as :class:`TelegramBusy` with the seconds
    left, without a request. Network errors and 5xx are retried by
    :class:`HttpCaller`.
    """

    def __init__(
        self,
        http: HttpCaller,
        *,
        api_base: str,
        bot_token: str,
        waits: ChatWaits | None = None,
    ) -> None:
        self._http = http
        self._base = f"{api_base.rstrip('/')}/bot{bot_token}"
        self._waits = waits or ChatWaits()
        self.username: str | None = None
        """Our bot's @username (without @), learnt from ``getMe``."""

    async def _call(self, method: str, params: Mapping[str, str]) -> object:
        url = f"{self._base}/{method}"
        chat_id = params.get("chat_id")
        if chat_id is not None:
            try:
                await self._waits.check(method, chat_id)
            except BotApiError as held:
                raise TelegramBusy(held.retry_after) from None

        async def send(client: httpx.AsyncClient) -> httpx.Response:
            response = await client.post(url, data=dict(params))
            error = BotApiError.from_response(method, response)
            if error is not None and error.kind == "rate_limited":
                if chat_id is not None:
                    await self._waits.learn(chat_id, error)
                raise TelegramBusy(error.retry_after)  # HttpCaller would retry it sooner
            return response

        def parse(response: httpx.Response) -> object:
            try:
                return bot_api_result(method, response)
            except BotApiError as error:
                raise TelegramRefused(error) from None

        return await self._http.call(send, parse)

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
        """The channel ``chat_id`` names, once our bot may post there and ``user_id`` may too
        (its creator, or an administrator with the right to post messages: :func:`may_post`).

        Raises :class:`ChannelNotUsable` with what the person should do;
        other Bot API errors raise ``PlatformOAuthError``.
        """
        bot_id = await self.bot_id()  # first: its @username goes into the reasons
        chat = await self._resolve(chat_id)
        numeric = str(chat["id"])
        bot = await self._member(numeric, bot_id, outside=("bad_request", "forbidden"))
        if not may_post(bot):
            raise ChannelNotUsable(
                f"our bot may not post in that channel: {self.fix()}, then try again"
                if bot.get("status") == "administrator"
                else f"our bot is not an administrator of that channel: {self.fix()}, "
                "then try again",
                "bot_cannot_post" if bot.get("status") == "administrator" else "bot_not_admin",
            )
        person = await self._member(numeric, user_id, outside=("bad_request",))
        if person.get("status") not in ("creator", "administrator"):
            raise ChannelNotUsable(
                "you are not an administrator of that channel", "not_channel_admin"
            )
        if not may_post(person):  # or our bot would post for someone the channel does not let
            raise ChannelNotUsable(
                "you are an administrator of that channel without the right to post messages: "
                "ask its owner to allow you to post messages, then try again",
                "person_cannot_post",
            )
        title = chat.get("title") or chat.get("username")
        return TelegramChannel(id=numeric, title=str(title) if title else None)

    async def _resolve(self, chat_id: str) -> dict[str, object]:
        """``getChat``: the channel's numeric id (an @username can change hands) and title."""
        try:
            chat = await self._call("getChat", {"chat_id": chat_id})
        except TelegramRefused as refused:
            if refused.error.kind in ("bad_request", "forbidden"):  # the bot cannot see it
                raise ChannelNotUsable(
                    f"Telegram knows no channel {chat_id}: check the id or @username "
                    f"(for a private channel, {self.fix()} first)",
                    "channel_unknown",
                    channel=chat_id,
                ) from None
            raise
        if not isinstance(chat, dict) or not isinstance(chat.get("id"), int):
            raise PlatformOAuthError("telegram_error", "getChat gave no chat id")
        if chat.get("type") != "channel":
            raise ChannelNotUsable(
                f"{chat_id} is a {chat.get('type')} chat, not a channel", "not_a_channel"
            )
        return chat

    async def _member(
        self, chat_id: str, user_id: str, *, outside: tuple[BotApiErrorKind, ...]
    ) -> dict[str, object]:
        """``getChatMember``; refusals of the ``outside`` kinds count as "not a member".

        For our bot: 403 (not a member, kicked) and 400 (a mere subscriber cannot
        read the member list); for a person: 400 (Telegram knows no such user).
        """
        try:
            member = await self._call("getChatMember", {"chat_id": chat_id, "user_id": user_id})
        except TelegramRefused as refused:
            if refused.error.kind in outside:
                return {"status": "left"}
            raise
        return member if isinstance(member, dict) else {"status": "left"}
