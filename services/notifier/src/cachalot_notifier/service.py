"""Deliver one operator notification once: dedupe, send, record.

Outcomes the handler maps to Kafka:
* sent, or already sent before → return (the message is acknowledged);
* Telegram refused the formatted text → it is sent once more as plain text
  (no parse mode), so the operator still hears of it;
* Telegram refused even that → :class:`Undeliverable` (the handler parks the
  event in the DLQ and carries on);
* Telegram unreachable after the retries, or the bot/chat is misconfigured
  → the exception propagates, the message is not acknowledged and Kafka
  delivers it again (after a pause for misconfiguration, so a bad token
  does not spin).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from cachalot_notifier.dedupe import DedupeStore, NotificationKey
from cachalot_notifier.formatting import ParseMode, Span, render, shown_text
from cachalot_notifier.telegram import SentMessage, TelegramBot, TelegramRejected

logger = logging.getLogger(__name__)


class Undeliverable(Exception):
    """Telegram refused this very message; sending it again cannot help."""


@dataclass(frozen=True)
class OperatorChannel:
    chat_id: str
    parse_mode: ParseMode
    misconfigured_pause_s: float = 30.0


class OperatorNotifier:
    def __init__(self, *, bot: TelegramBot, store: DedupeStore, channel: OperatorChannel) -> None:
        self._bot = bot
        self._store = store
        self._channel = channel

    async def notify(self, key: NotificationKey, spans: list[Span]) -> None:
        """Send ``spans`` to the operator unless ``key`` was already sent."""
        if await self._store.was_sent(key):
            logger.info("notification %s was already sent; skipping the redelivery", key)
            return
        try:
            sent = await self._send(spans)
        except TelegramRejected as error:
            if error.about_this_message:
                raise Undeliverable(str(error)) from None
            logger.error(
                "telegram refused the bot or the operator chat (%s); check "
                "CACHALOT_TELEGRAM_BOT_TOKEN and CACHALOT_OPERATOR_CHAT_ID",
                error,
            )
            await asyncio.sleep(self._channel.misconfigured_pause_s)
            raise
        await self._store.mark_sent(key, telegram_message_id=sent.message_id)
        logger.info("notification %s sent as telegram message %s", key, sent.message_id)

    async def _send(self, spans: list[Span]) -> SentMessage:
        """Formatted; if Telegram refuses that very text, the same words unformatted."""
        chat, mode = self._channel.chat_id, self._channel.parse_mode
        try:
            return await self._bot.send_message(chat, render(spans, mode), parse_mode=mode)
        except TelegramRejected as error:
            if not error.about_this_message:
                raise
            logger.warning(
                "telegram refused the %s text (%s); sending it as plain text", mode, error
            )
        return await self._bot.send_message(chat, shown_text(spans))
