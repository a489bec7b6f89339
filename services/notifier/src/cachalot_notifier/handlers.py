"""Kafka subscribers, registered in one place: event → operator message.

Each handler turns one event into spans (:mod:`messages`) and a dedupe key,
and calls the service. The four topics share ONE consumer (group
``notifier``): each extra group member costs a rebalance at start, seconds
on Tansu. It is registered with the consumer kit (``cachalot_common.consuming``):
decode or park in ``<topic>.dlq`` and carry on, acknowledge only after the
handler succeeded, recover after the broker lost everything. A handler only
records the message (:mod:`service`) and returns, so the consumer never waits
on Telegram; the background sender delivers it, and parks a message Telegram
refuses for good in ``<topic>.dlq`` with the reason (:func:`dlq_parker`).
"""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker

from cachalot_common import topics
from cachalot_common.consuming import Route, subscribe
from cachalot_common.events import (
    AccountChanged,
    ContactSubmitted,
    Event,
    NotifyRequested,
    PostStatusChanged,
)
from cachalot_common.kafka import encode
from cachalot_common.metrics import count_dead_letter
from cachalot_common.text import truncate
from cachalot_notifier import messages
from cachalot_notifier.dedupe import NotificationKey
from cachalot_notifier.deliveries import Claimed
from cachalot_notifier.formatting import Span
from cachalot_notifier.sender import Park
from cachalot_notifier.service import OperatorNotifier

logger = logging.getLogger(__name__)

GROUP_ID = "notifier"
TELEGRAM = "operator_telegram"


def register_handlers(
    broker: KafkaBroker,
    notifier: OperatorNotifier,
    *,
    email_configured: bool = False,
    **options: Any,
) -> None:
    """Subscribe the notifier to every topic it reads (group ``notifier``).

    ``options``: subscriber options (``cachalot_common.kafka.consumer_options``).
    """

    async def tell_operator(topic: str, event: Event, key: str, spans: list[Span]) -> None:
        await notifier.notify(
            NotificationKey(topic, event.event_id, TELEGRAM),
            spans,
            event_key=key,
            event_json=encode(event).decode(),
        )

    async def on_contact_submitted(event: ContactSubmitted) -> None:
        await tell_operator(
            topics.CONTACT_SUBMITTED,
            event,
            str(event.event_id),
            messages.contact_submitted(event),
        )

    async def on_post_status(event: PostStatusChanged) -> None:
        if event.status != "failed":
            return
        await tell_operator(
            topics.POSTS_STATUS, event, str(event.post_id), messages.post_failed(event)
        )

    async def on_account_changed(event: AccountChanged) -> None:
        if event.type != "reauth_required":
            return
        await tell_operator(
            topics.ACCOUNTS,
            event,
            str(event.account_id),
            messages.account_reauth_required(event),
        )

    async def on_notify(event: NotifyRequested) -> None:
        if event.channel == "email":
            if not email_configured:
                logger.warning(
                    "email to a client requested (event %s) but email is not configured "
                    "(no CACHALOT_SMTP_HOST); dropping it",
                    event.event_id,
                )
            return
        await tell_operator(
            topics.NOTIFY, event, str(event.recipient or ""), messages.notify_requested(event)
        )

    routes: dict[str, Route[Any]] = {
        topics.CONTACT_SUBMITTED: Route(ContactSubmitted, on_contact_submitted),
        topics.POSTS_STATUS: Route(PostStatusChanged, on_post_status),
        topics.ACCOUNTS: Route(AccountChanged, on_account_changed),
        topics.NOTIFY: Route(NotifyRequested, on_notify),
    }
    subscribe(broker, routes, group_id=GROUP_ID, **options)


def dlq_parker(broker: KafkaBroker) -> Park:
    """Park a delivery Telegram refuses for good: its event goes to ``<topic>.dlq``."""

    async def park(row: Claimed, reason: str) -> None:
        logger.error("notification %s is undeliverable: %s", row.dedupe_key, reason)
        await broker.publish(
            row.event_json.encode(),
            topic=topics.dlq(row.source_topic),
            key=row.event_key.encode(),
            headers={
                "content-type": "application/json",
                "x-dlq-reason": truncate(reason, 300),
                "x-dlq-source-topic": row.source_topic,
            },
        )
        count_dead_letter(row.source_topic)

    return park
