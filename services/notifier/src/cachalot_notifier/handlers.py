"""Kafka subscribers, registered in one place: event → operator message.

Each handler turns one event into spans (:mod:`messages`) and a dedupe key,
and calls the service. Decoding failures never reach here: ``subscribe``
parks them in ``<topic>.dlq``. A message Telegram refuses for good is parked
there too, with the reason, so one bad event never blocks a partition.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from faststream.kafka import KafkaBroker
from pydantic import BaseModel

from cachalot_common import topics
from cachalot_common.events import (
    AccountChanged,
    ContactSubmitted,
    Event,
    NotifyRequested,
    PostStatusChanged,
)
from cachalot_common.kafka import encode, subscribe
from cachalot_notifier import messages
from cachalot_notifier.dedupe import NotificationKey
from cachalot_notifier.formatting import Span
from cachalot_notifier.service import OperatorNotifier, Undeliverable

logger = logging.getLogger(__name__)

GROUP_ID = "notifier"
TELEGRAM = "operator_telegram"


def register_handlers(
    broker: KafkaBroker, notifier: OperatorNotifier, *, email_configured: bool = False
) -> None:
    """Subscribe the notifier to every topic it reads (group ``notifier``)."""

    async def park(topic: str, event: Event, key: str, error: Undeliverable) -> None:
        logger.error("event %s from %s is undeliverable: %s", event.event_id, topic, error)
        await broker.publish(
            encode(event),
            topic=topics.dlq(topic),
            key=key.encode(),
            headers={
                "content-type": "application/json",
                "x-dlq-reason": f"undeliverable: {error}"[:300],
                "x-dlq-source-topic": topic,
            },
        )

    async def tell_operator(topic: str, event: Event, key: str, spans: list[Span]) -> None:
        try:
            await notifier.notify(NotificationKey(topic, event.event_id, TELEGRAM), spans)
        except Undeliverable as error:
            await park(topic, event, key, error)

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

    routes: list[tuple[str, type[BaseModel], Callable[..., Awaitable[None]]]] = [
        (topics.CONTACT_SUBMITTED, ContactSubmitted, on_contact_submitted),
        (topics.POSTS_STATUS, PostStatusChanged, on_post_status),
        (topics.ACCOUNTS, AccountChanged, on_account_changed),
        (topics.NOTIFY, NotifyRequested, on_notify),
    ]
    for topic, model, handler in routes:
        subscribe(broker, topic, model, handler, group_id=GROUP_ID)
