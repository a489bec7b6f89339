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
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID

from faststream.kafka import KafkaBroker
from pydantic import Field, RootModel

from cachalot_common import topics
from cachalot_common.consuming import Route, subscribe
from cachalot_common.events import (
    AccountChanged,
    ClientNoticeRequested,
    ContactSubmitted,
    Event,
    NotifyRequested,
    PostStatusChanged,
    ProposalAnswered,
)
from cachalot_common.kafka import encode
from cachalot_common.metrics import count_dead_letter
from cachalot_common.telemetry import current_trace_id, trace_link
from cachalot_common.text import truncate
from cachalot_notifier import messages
from cachalot_notifier.contacts import ContactBook, client_name
from cachalot_notifier.dedupe import NotificationKey
from cachalot_notifier.deliveries import Claimed
from cachalot_notifier.formatting import Span
from cachalot_notifier.mail_render import (
    ACCOUNT_CHANNEL,
    ACCOUNT_REAUTH,
    POLICY_CHANGED,
    POST_FAILED,
    POST_UNCONFIRMED,
)
from cachalot_notifier.mail_store import Notice
from cachalot_notifier.operator_api import policy_key
from cachalot_notifier.sender import Park
from cachalot_notifier.service import ClientMail, OperatorNotifier

logger = logging.getLogger(__name__)

TELEGRAM = "operator_telegram"
#: Records handled per fetch, with one offset commit after them.
FETCH_MAX_RECORDS = 100
EMAIL = "email"


class NotifyMessage(
    RootModel[
        Annotated[
            NotifyRequested | ClientNoticeRequested | ProposalAnswered,
            Field(discriminator="type"),
        ]
    ]
):
    """What ``notify.v1`` carries: a free-form request, a notice to one client, or a
    client's answer to an operator's proposal."""


def register_handlers(
    broker: KafkaBroker,
    notifier: OperatorNotifier,
    *,
    group_id: str,
    mail: ClientMail | None = None,
    names: ContactBook | None = None,
    erase: Callable[[UUID], Awaitable[None]] | None = None,
    trace_url_template: str | None = None,
    **options: Any,
) -> None:
    """Subscribe the notifier to every topic it reads, in one group (``CACHALOT_CONSUMER_GROUP``).

    ``mail``: e-mail to clients (None when ``CACHALOT_SMTP_HOST`` is unset:
    nothing is recorded for clients). ``names``: where the operator's messages
    read a client's name (auth; None: no ``CACHALOT_SERVICE_SECRET``, the messages say
    the name is not known, :func:`~cachalot_notifier.contacts.client_name`). ``erase``:
    called with the client id of every ``accounts.v1`` ``deleted`` (the client erased its
    data, :class:`~cachalot_notifier.erasure.Erasure`). ``trace_url_template``
    (``CACHALOT_TRACE_URL_TEMPLATE``): the failed post's and the approved
    proposal's messages link the trace this event travels in (the post's).
    ``options``: subscriber options (``cachalot_common.kafka.consumer_options``).
    """

    async def tell_client(notice: Notice) -> None:
        if mail is not None:
            await mail.record(notice)

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

    def trace_url() -> str | None:  # the trace this event travels in
        return trace_link(trace_url_template, current_trace_id())

    async def on_post_status(event: PostStatusChanged) -> None:
        # unconfirmed (issue 10): the post may be out; a "please check", never a failure
        if event.status == "failed":
            kind, spans = POST_FAILED, messages.post_failed
        elif event.status == "unconfirmed":
            kind, spans = POST_UNCONFIRMED, messages.post_unconfirmed
        else:
            return
        await tell_operator(
            topics.POSTS_STATUS,
            event,
            str(event.post_id),
            spans(event, client=await client_name(names, event.client_id), trace_url=trace_url()),
        )
        await tell_client(
            Notice(
                dedupe_key=str(NotificationKey(topics.POSTS_STATUS, event.event_id, EMAIL)),
                kind=kind,
                client_id=event.client_id,
                facts={
                    "platform": event.platform,
                    "post_id": str(event.post_id),
                    "target_id": str(event.target_id),
                    "account_id": str(event.account_id),
                    "reason": event.reason,
                    "code": event.code,
                    "account_name": event.account_name,
                    "text_start": event.text_start,
                },
            )
        )

    async def on_account_changed(event: AccountChanged) -> None:
        # needs_channel: only a link found broken is news (a sign-in with no channel yet is
        # not); reauth_required with that code is what auth sent before needs_channel
        if event.type == "deleted":  # the client erased its data (auth's only cause)
            if erase is not None:
                await erase(event.client_id)
            return
        channel = event.code == "channel_link_broken"
        if event.type == "needs_channel" and not channel:
            return
        if event.type not in ("reauth_required", "needs_channel"):
            return
        await tell_operator(
            topics.ACCOUNTS,
            event,
            str(event.account_id),
            messages.account_reauth_required(
                event, client=await client_name(names, event.client_id)
            ),
        )
        await tell_client(
            Notice(
                dedupe_key=str(NotificationKey(topics.ACCOUNTS, event.event_id, EMAIL)),
                kind=ACCOUNT_CHANNEL if channel else ACCOUNT_REAUTH,
                client_id=event.client_id,
                facts={
                    "platform": event.platform,
                    "account_id": str(event.account_id),
                    "display_name": event.display_name,
                    "reason": event.reason,
                    "code": event.code,
                },
            )
        )

    async def on_notify(message: NotifyMessage) -> None:
        event = message.root
        if isinstance(event, ClientNoticeRequested):
            # one per (version, client), whatever the events: redelivered, or sent twice
            await tell_client(
                Notice(
                    dedupe_key=policy_key(event.policy_version, event.client_id),
                    kind=POLICY_CHANGED,
                    client_id=event.client_id,
                    facts={
                        "policy_version": event.policy_version,
                        "policy_url": event.policy_url,
                        "policy_summary": event.policy_summary,
                    },
                )
            )
            return
        if isinstance(event, ProposalAnswered):
            client = await client_name(names, event.client_id)
            spans = messages.proposal_answered(event, client=client, trace_url=trace_url())
            await tell_operator(topics.NOTIFY, event, str(event.client_id), spans)
            return
        if event.channel == "email":
            if mail is None:
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
        topics.NOTIFY: Route(NotifyMessage, on_notify),
    }
    # A fetch at a time: most records (status events of posts that did not fail) need no
    # work, and one commit per fetch instead of per record is most of their cost.
    subscribe(broker, routes, group_id=group_id, max_records=FETCH_MAX_RECORDS, **options)


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
