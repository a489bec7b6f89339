"""A small Telegram Bot API client: one call per method, no retries, the token kept secret.

Retrying is the sender's job (:mod:`sender`): it schedules the next try by
what Telegram answered, so nothing here sleeps. Answers are read with
:mod:`cachalot_common.telegram_api` (classified by ``error_code`` and
``parameters``); this module raises its :class:`BotApiError` and
:class:`BotApiUnreachable`.

The bot token is part of every URL (``/bot<token>/sendMessage``), so:
* errors raised here are built from our own words, never from httpx's
  (whose messages and ``request`` carry the URL), and chained ``from None``;
* the httpx client is instrumented with redacted URLs (composition root);
* nothing here logs a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from cachalot_common.telegram_api import BotApiError, BotApiUnreachable, ChatWaits, call_bot_api
from cachalot_notifier.formatting import ParseMode

__all__ = ["BotApiError", "BotApiUnreachable", "SentMessage", "TelegramBot"]


@dataclass(frozen=True)
class SentMessage:
    message_id: int
    chat_id: int | str


class TelegramBot:
    """One bot, talking to one Bot API host through a shared httpx client.

    Every call naming a chat keeps that chat's flood wait (``waits``,
    :class:`~cachalot_common.telegram_api.ChatWaits`): after a 429, a call to
    the same chat raises a held 429 with the seconds left and reaches nobody.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        api_base: str,
        token: SecretStr,
        waits: ChatWaits | None = None,
    ) -> None:
        self._client = client
        self._api_base = api_base.rstrip("/")
        self._token = token
        self._waits = waits or ChatWaits()

    async def send_message(
        self, chat_id: int | str, text: str, *, parse_mode: ParseMode | None = None
    ) -> SentMessage:
        """``sendMessage`` once. Raises :class:`BotApiError` or :class:`BotApiUnreachable`."""
        payload: dict[str, Any] = {
            "chat_id": chat_id,
            "text": text,
            "link_preview_options": {"is_disabled": True},
        }
        if parse_mode:
            payload["parse_mode"] = parse_mode
        result = await self.call("sendMessage", payload)
        if not isinstance(result, dict) or not isinstance(result.get("message_id"), int):
            raise BotApiError(
                "sendMessage",
                http_status=200,
                error_code=502,
                description="an ok answer without a message_id",
                bot_api_answer=False,
            )
        chat = result.get("chat") or {}
        return SentMessage(message_id=result["message_id"], chat_id=chat.get("id", chat_id))

    async def chat_exists(self, chat_id: int | str) -> bool:
        """``getChat``: True when the bot can see the chat, False on a 400/403 answer.

        Used to tell a refused message from a refused chat by Telegram's codes
        (both are 400 on ``sendMessage``). Other errors propagate.
        """
        try:
            await self.call("getChat", {"chat_id": chat_id})
        except BotApiError as error:
            if error.kind in ("bad_request", "forbidden"):
                return False
            raise
        return True

    async def call(self, method: str, payload: dict[str, Any]) -> Any:
        """One Bot API call: its ``result``; :class:`BotApiError` / :class:`BotApiUnreachable`."""
        url = f"{self._api_base}/bot{self._token.get_secret_value()}/{method}"
        return await call_bot_api(self._client, url, method, json=payload, waits=self._waits)
