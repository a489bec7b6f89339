"""Handlers through FastStream's TestKafkaBroker, the sandbox Telegram and a SQLite dedupe table."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaMessage, TestKafkaBroker

from cachalot_common import topics
from cachalot_common.events import (
    AccountChanged,
    ContactSubmitted,
    NotifyRequested,
    PostStatusChanged,
)
from cachalot_common.kafka import build_broker, publish_event
from cachalot_notifier.main import create_app
from cachalot_notifier.settings import NotifierSettings
from cachalot_notifier.telegram import TelegramRejected, TelegramUnavailable

BOT_TOKEN = "918273645:AAnotifierTESTtokenNEVERinLOGS_12345"  # the sandbox's (conftest)
OPERATOR_CHAT = "424242"


def settings_for(database: Path, parse_mode: str = "HTML") -> NotifierSettings:
    return NotifierSettings(
        telegram_parse_mode=parse_mode,  # type: ignore[arg-type]
        telegram_bot_token=BOT_TOKEN,  # type: ignore[arg-type]
        operator_chat_id=OPERATOR_CHAT,
        telegram_api_base="http://sandbox/telegram",
        database_url=f"sqlite+aiosqlite:///{database}",
        kafka_bootstrap="127.0.0.1:9",
        telegram_max_attempts=3,
        telegram_backoff_initial_s=0.01,
        telegram_backoff_max_s=0.02,
    )


class Harness:
    def __init__(self, broker: Any, dlq: list[tuple[str, bytes, dict[str, Any]]]) -> None:
        self.broker = broker
        self.dlq = dlq

    async def publish(self, topic: str, event: Any, key: str = "k") -> None:
        await publish_event(self.broker, topic, event, key=key)


@pytest.fixture
def parse_mode(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "HTML"))


@pytest.fixture
async def harness(
    tmp_path: Path, sandbox_app: FastAPI, sandbox: Any, parse_mode: str
) -> AsyncIterator[Harness]:
    settings = settings_for(tmp_path / "notifier.db", parse_mode)
    broker = build_broker(settings, client_id="notifier")
    dlq: list[tuple[str, bytes, dict[str, Any]]] = []
    for topic in (topics.CONTACT_SUBMITTED, topics.POSTS_STATUS):

        @broker.subscriber(topics.dlq(topic), group_id="test-dlq")
        async def capture(body: Any, message: KafkaMessage) -> None:
            dlq.append((message.raw_message.topic, message.body, dict(message.headers)))

    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app))
    app = create_app(settings, broker=broker, http_client=http, misconfigured_pause_s=0)
    async with TestKafkaBroker(broker) as test_broker, app.router.lifespan_context(app):
        yield Harness(test_broker, dlq)


def contact(**overrides: Any) -> ContactSubmitted:
    fields: dict[str, Any] = {
        "name": "Ada",
        "contact": "+441234567890",
        "contact_kind": "phone",
        "category": "other",
        "message": "<b>Hi</b> *there* _you_ \\o/ 😀\nsecond line",
    }
    return ContactSubmitted.model_validate({**fields, **overrides})


async def test_a_contact_submission_becomes_one_operator_message_as_typed(harness, sandbox):
    event = contact()
    await harness.publish(topics.CONTACT_SUBMITTED, event)
    [message] = await sandbox.messages()
    assert "\n\n<b>Hi</b> *there* _you_ \\o/ 😀\nsecond line\n\n" in message["text"]
    assert "Contact: +441234567890\n" in message["text"]
    assert message["parse_mode"] == "HTML"


@pytest.mark.parametrize("parse_mode", ["MarkdownV2"], indirect=True)
async def test_in_markdown_v2_mode_typed_text_also_arrives_as_typed(harness, sandbox, parse_mode):
    typed = r"*a* _b_ __c__ ~d~ ||e|| `f` [g](h) \ \\ _*[]()~`>#+-=|{}.! <b>x</b>"
    await harness.publish(topics.CONTACT_SUBMITTED, contact(name="*Ada_", message=typed))
    [message] = await sandbox.messages()
    assert message["parse_mode"] == "MarkdownV2"
    assert "Name: *Ada_\n" in message["text"]
    assert f"\n\n{typed}\n\n" in message["text"]


async def test_redelivered_event_sends_nothing_new(harness, sandbox):
    event = contact()
    await harness.publish(topics.CONTACT_SUBMITTED, event)
    await harness.publish(topics.CONTACT_SUBMITTED, event)
    assert len(await sandbox.messages()) == 1
    assert await sandbox.send_calls() == 1


async def test_a_poison_message_goes_to_the_dlq_and_the_next_one_is_delivered(harness, sandbox):
    await harness.broker.publish(b"{not json", topic=topics.CONTACT_SUBMITTED, key=b"bad")
    await harness.publish(topics.CONTACT_SUBMITTED, contact(name="After poison"))
    assert [topic for topic, _, _ in harness.dlq] == ["contact.submitted.v1.dlq"]
    assert harness.dlq[0][1] == b"{not json"
    [message] = await sandbox.messages()
    assert "After poison" in message["text"]


async def test_formatted_text_telegram_refuses_is_sent_again_as_plain_text(harness, sandbox):
    await sandbox.queue_faults(
        {"status": 400, "description": "Bad Request: can't parse entities: surprise"}
    )
    event = contact(name="Plain <Ada>")
    await harness.publish(topics.CONTACT_SUBMITTED, event)
    [message] = await sandbox.messages()
    assert message["parse_mode"] is None
    assert "Name: Plain <Ada>\n" in message["text"]
    assert harness.dlq == []


async def test_text_telegram_refuses_for_good_is_parked_in_the_dlq_with_the_reason(
    harness, sandbox
):
    too_long = {"status": 400, "description": "Bad Request: message is too long"}
    await sandbox.queue_faults(too_long, too_long)
    event = contact()
    await harness.publish(topics.CONTACT_SUBMITTED, event)
    [(topic, body, headers)] = harness.dlq
    assert topic == "contact.submitted.v1.dlq"
    assert ContactSubmitted.model_validate_json(body) == event
    assert "message is too long" in headers["x-dlq-reason"]
    assert await sandbox.messages() == []
    assert await sandbox.send_calls() == 2


async def test_telegram_down_past_the_retries_leaves_the_event_unacknowledged(harness, sandbox):
    await sandbox.queue_faults(*[{"status": 500}] * 3)
    event = contact()
    with pytest.raises(TelegramUnavailable):
        await harness.publish(topics.CONTACT_SUBMITTED, event)
    assert await sandbox.messages() == []
    await harness.publish(topics.CONTACT_SUBMITTED, event)  # Kafka's redelivery
    assert len(await sandbox.messages()) == 1


async def test_a_refused_bot_or_chat_leaves_the_event_unacknowledged_not_parked(harness, sandbox):
    await sandbox.queue_faults(
        {"status": 403, "description": "Forbidden: bot was blocked by the user"}
    )
    with pytest.raises(TelegramRejected):
        await harness.publish(topics.CONTACT_SUBMITTED, contact())
    assert harness.dlq == []
    assert await sandbox.messages() == []


def post_status(status: str, reason: str | None = "Video rejected: <too long>") -> Any:
    return PostStatusChanged(
        post_id=uuid.uuid4(),
        target_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        account_id=uuid.uuid4(),
        platform="tiktok",
        status=status,  # type: ignore[arg-type]
        reason=reason,
    )


async def test_a_failed_post_tells_the_operator_why(harness, sandbox):
    event = post_status("failed")
    await harness.publish(topics.POSTS_STATUS, event)
    [message] = await sandbox.messages()
    assert message["text"].startswith("Post failed on TikTok\n")
    assert f"Post: {event.post_id}" in message["text"]
    assert "Reason: Video rejected: <too long>" in message["text"]


async def test_other_post_states_are_not_the_operators_business(harness, sandbox):
    await harness.publish(topics.POSTS_STATUS, post_status("published", None))
    assert await sandbox.messages() == []


def account(type_: str) -> AccountChanged:
    return AccountChanged(
        type=type_,  # type: ignore[arg-type]
        account_id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        platform="youtube",
        display_name="Ada's channel",
        reason="invalid_grant: token revoked",
    )


async def test_an_account_needing_reauthorisation_tells_the_operator(harness, sandbox):
    await harness.publish(topics.ACCOUNTS, account("reauth_required"))
    await harness.publish(topics.ACCOUNTS, account("connected"))
    [message] = await sandbox.messages()
    assert message["text"].startswith("YouTube account needs re-authorisation\n")
    assert "Account: Ada's channel" in message["text"]
    assert "Reason: invalid_grant: token revoked" in message["text"]


async def test_notify_requests_for_the_operator_are_sent_and_emails_are_skipped(harness, sandbox):
    await harness.publish(
        topics.NOTIFY,
        NotifyRequested(channel="operator_telegram", subject="Queue <stuck>", text="10 > 5 & 1"),
    )
    await harness.publish(
        topics.NOTIFY, NotifyRequested(channel="email", recipient="a@example.org", text="hi")
    )
    [message] = await sandbox.messages()
    assert message["text"].startswith("Queue <stuck>\n10 > 5 & 1\n\n")
