"""Record one operator notification once; the background sender delivers it.

The Kafka handler calls :meth:`OperatorNotifier.notify`, which renders the
message, claims its key in the deliveries table (insert if absent: a
redelivery, or the same event in a second replica, records nothing new) and
returns, so the handler commits in milliseconds whatever Telegram is doing.
:mod:`sender` sends it, waits when Telegram says so, and parks what Telegram
refuses for good in ``<topic>.dlq``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from cachalot_common.telemetry import current_traceparent
from cachalot_notifier.dedupe import NotificationKey
from cachalot_notifier.deliveries import DeliveryStore, Intent
from cachalot_notifier.formatting import ParseMode, Span, render, shown_text
from cachalot_notifier.mail_store import EmailStore, Notice

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OperatorChannel:
    chat_id: str
    parse_mode: ParseMode


class OperatorNotifier:
    def __init__(
        self,
        *,
        store: DeliveryStore,
        channel: OperatorChannel,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._channel = channel
        self._wake = wake
        self._clock = clock

    async def notify(
        self, key: NotificationKey, spans: list[Span], *, event_key: str = "", event_json: str = ""
    ) -> bool:
        """Record ``spans`` for the operator unless ``key`` was recorded before.

        ``event_key``/``event_json`` are the Kafka key and the event, kept to
        park the event in ``<topic>.dlq`` if Telegram refuses it for good.
        True when this call recorded it.
        """
        configured, mode = self._channel.chat_id, self._channel.parse_mode
        intent = Intent(
            key=key,
            lane=f"{configured}|{key.topic}",
            chat_id=await self._store.current_chat(configured),
            text=render(spans, mode),
            parse_mode=mode,
            plain_text=shown_text(spans),
            event_key=event_key,
            event_json=event_json,
            traceparent=current_traceparent(),
        )
        recorded = await self._store.record(intent, now=self._clock())
        if recorded:
            self._wake()
        else:
            logger.info("notification %s was already recorded; skipping the redelivery", key)
        return recorded


class ClientMail:
    """Records e-mail notices to clients once; the mailer (:mod:`mailer`) sends them."""

    def __init__(
        self,
        *,
        store: EmailStore,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._wake = wake
        self._clock = clock

    async def record(self, notice: Notice) -> bool:
        """Record ``notice`` unless its key was recorded before; True when this call did."""
        recorded = await self._store.record(notice, now=self._clock())
        if recorded:
            self._wake()
        else:
            logger.info("e-mail notice %s was already recorded; nothing new", notice.dedupe_key)
        return recorded
