"""Handlers and the background sender through FastStream's TestKafkaBroker, the sandbox
Telegram and a SQLite (or PostgreSQL) deliveries table.

A handler only records the message; the sender delivers it. ``harness.settle()``
waits until no delivery is pending, the marker that the sender is done.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from faststream.kafka import KafkaMessage, TestKafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY
from sqlalchemy import text

from cachalot_common import topics
from cachalot_common.db import create_engine
from cachalot_common.events import (
    AccountChanged,
    ContactSubmitted,
    NotifyRequested,
    PostStatusChanged,
    ProposalAnswered,
)
from cachalot_common.kafka import build_broker, publish_event
from cachalot_notifier.contacts import ERASED, UNNAMED, Contact, ContactBook, ContactUnavailable
from cachalot_notifier.main import create_app
from cachalot_notifier.settings import NotifierSettings

BOT_TOKEN = "918273645:AAnotifierTESTtokenNEVERinLOGS_12345"  # the sandbox's (conftest)
OPERATOR_CHAT = "424242"


def settings_for(database: str, parse_mode: str = "HTML", **overrides: Any) -> NotifierSettings:
    return NotifierSettings(
        **{
            "telegram_parse_mode": parse_mode,
            "telegram_bot_token": BOT_TOKEN,
            "operator_chat_id": OPERATOR_CHAT,
            "telegram_api_base": "http://sandbox/telegram",
            "database_url": database,
            "kafka_bootstrap": "127.0.0.1:9",
            "telegram_backoff_initial_s": 0.01,
            "telegram_backoff_max_s": 0.02,
            "telegram_misconfigured_pause_s": 0,
            **overrides,
        }
    )


class Clock:
    """Real time plus an offset a test may jump forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


class Harness:
    def __init__(
        self,
        broker: Any,
        dlq: list[tuple[str, bytes, dict[str, Any]]],
        app: FastAPI,
        clock: Clock,
        database: str,
    ) -> None:
        self.database = database
        self.broker = broker
        self.dlq = dlq
        self.app = app
        self.clock = clock

    async def publish(self, topic: str, event: Any, key: str = "k") -> None:
        await publish_event(self.broker, topic, event, key=key)

    def nudge(self) -> None:
        self.app.state.sender.wake()

    async def pending(self) -> int:
        return len(await self.app.state.deliveries.lane_heads())

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until no delivery is pending (the sender finished with every row)."""
        deadline = time.monotonic() + timeout
        while await self.pending():
            if time.monotonic() > deadline:
                raise AssertionError("deliveries still pending")
            await asyncio.sleep(0.02)


async def assert_words_forgotten(harness: Harness) -> None:
    """Once sent, a delivery row keeps ids and times, not the submitter's words."""
    engine = create_engine(harness.database)
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT * FROM deliveries"))).mappings().all()
    finally:
        await engine.dispose()
    assert rows
    for row in rows:
        assert row["state"] == "sent"
        assert (row["text"], row["plain_text"], row["event_json"]) == ("", "", "")
        assert row["telegram_message_id"] is not None


async def eventually(probe: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"nothing within {timeout}s")


@pytest.fixture
def parse_mode(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "HTML"))


@pytest.fixture
def overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(getattr(request, "param", {}))


async def start_notifier(
    stack: AsyncExitStack,
    settings: NotifierSettings,
    sandbox_app: FastAPI | None,
    clock: Clock,
    tracer_provider: TracerProvider | None = None,
    contacts: ContactBook | None = None,
) -> Harness:
    """The notifier app on a TestKafkaBroker; ``sandbox_app=None``: the app's own HTTP client
    (its timeout) to ``settings.telegram_api_base``."""
    broker = build_broker(settings, client_id="notifier")
    dlq: list[tuple[str, bytes, dict[str, Any]]] = []
    for topic in (topics.CONTACT_SUBMITTED, topics.POSTS_STATUS):

        @broker.subscriber(topics.dlq(topic), group_id="test-dlq")
        async def capture(body: Any, message: KafkaMessage) -> None:
            dlq.append((message.raw_message.topic, message.body, dict(message.headers)))

    http = None
    if sandbox_app is not None:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app))
    app = create_app(
        settings,
        broker=broker,
        http_client=http,
        clock=clock,
        sender_poll_s=0.05,
        tracer_provider=tracer_provider,
        contacts=contacts,
    )
    test_broker = await stack.enter_async_context(TestKafkaBroker(broker))
    await stack.enter_async_context(app.router.lifespan_context(app))
    return Harness(test_broker, dlq, app, clock, settings.database_url)


@pytest.fixture
async def harness(
    tmp_path: Path, sandbox_app: FastAPI, sandbox: Any, parse_mode: str, overrides: dict[str, Any]
) -> AsyncIterator[Harness]:
    database = f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}"
    async with AsyncExitStack() as stack:
        yield await start_notifier(
            stack, settings_for(database, parse_mode, **overrides), sandbox_app, Clock()
        )


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
    await harness.settle()
    [message] = await sandbox.messages()
    await assert_words_forgotten(harness)
    assert "\n\n<b>Hi</b> *there* _you_ \\o/ 😀\nsecond line\n\n" in message["text"]
    assert "Contact: +441234567890\n" in message["text"]
    assert message["parse_mode"] == "HTML"


@pytest.mark.parametrize("parse_mode", ["MarkdownV2"], indirect=True)
async def test_in_markdown_v2_mode_typed_text_also_arrives_as_typed(harness, sandbox, parse_mode):
    typed = r"*a* _b_ __c__ ~d~ ||e|| `f` [g](h) \ \\ _*[]()~`>#+-=|{}.! <b>x</b>"
    await harness.publish(topics.CONTACT_SUBMITTED, contact(name="*Ada_", message=typed))
    await harness.settle()
    [message] = await sandbox.messages()
    assert message["parse_mode"] == "MarkdownV2"
    assert "Name: *Ada_\n" in message["text"]
    assert f"\n\n{typed}\n\n" in message["text"]


async def test_redelivered_event_sends_nothing_new(harness, sandbox):
    event = contact()
    await harness.publish(topics.CONTACT_SUBMITTED, event)
    await harness.publish(topics.CONTACT_SUBMITTED, event)
    await harness.settle()
    assert len(await sandbox.messages()) == 1
    assert await sandbox.send_calls() == 1


async def test_a_poison_message_goes_to_the_dlq_and_the_next_one_is_delivered(harness, sandbox):
    await harness.broker.publish(b"{not json", topic=topics.CONTACT_SUBMITTED, key=b"bad")
    await harness.publish(topics.CONTACT_SUBMITTED, contact(name="After poison"))
    assert [topic for topic, _, _ in harness.dlq] == ["contact.submitted.v1.dlq"]
    assert harness.dlq[0][1] == b"{not json"
    await harness.settle()
    [message] = await sandbox.messages()
    assert "After poison" in message["text"]


async def test_formatted_text_telegram_refuses_is_sent_again_as_plain_text(harness, sandbox):
    await sandbox.queue_faults(
        {"status": 400, "description": "Bad Request: can't parse entities: surprise"}
    )
    event = contact(name="Plain <Ada>")
    await harness.publish(topics.CONTACT_SUBMITTED, event)
    await harness.settle()
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
    await harness.settle()
    [(topic, body, headers)] = harness.dlq
    assert topic == "contact.submitted.v1.dlq"
    assert ContactSubmitted.model_validate_json(body) == event
    assert "message is too long" in headers["x-dlq-reason"]
    assert await sandbox.messages() == []
    assert await sandbox.send_calls() == 2


async def test_telegram_down_acknowledges_the_event_and_delivers_when_it_is_back(harness, sandbox):
    await sandbox.queue_faults(*[{"status": 500}] * 3, {"status": 502})
    event = contact()
    await harness.publish(topics.CONTACT_SUBMITTED, event)  # returns: nothing to redeliver
    await harness.settle()
    assert len(await sandbox.messages()) == 1
    assert await sandbox.send_calls() == 5


async def test_a_user_who_blocked_the_bot_is_told_by_the_403_and_the_message_waits_for_them(
    harness, sandbox, caplog
):
    await sandbox.block(OPERATOR_CHAT)
    with caplog.at_level(logging.ERROR):
        await harness.publish(topics.CONTACT_SUBMITTED, contact(name="Blocked"))
        await eventually(sandbox.send_calls)
    assert harness.dlq == []
    assert await sandbox.messages() == []
    assert await harness.pending() == 1  # kept, not parked, not dropped
    assert "CACHALOT_OPERATOR_CHAT_ID" in caplog.text
    await sandbox.unblock(OPERATOR_CHAT)
    await harness.settle()
    [message] = await sandbox.messages()
    assert "Name: Blocked" in message["text"]


@pytest.mark.parametrize(
    "description", ["Forbidden: bot was blocked by the user", "Forbidden: a wording never seen"]
)
async def test_a_403_is_classified_by_its_code_whatever_its_words(harness, sandbox, description):
    await sandbox.queue_faults({"status": 403, "description": description})
    await harness.publish(topics.CONTACT_SUBMITTED, contact())
    await harness.settle()
    assert harness.dlq == []  # a 400 about the text would have been parked; a 403 never is
    assert len(await sandbox.messages()) == 1
    assert await sandbox.send_calls() == 2


async def test_a_400_naming_no_chat_is_still_a_chat_problem_when_get_chat_refuses_it(
    tmp_path, sandbox_app, sandbox
):
    """Telegram's words are not read: a chat the bot cannot see (getChat 400) holds the
    message instead of parking it, whatever sendMessage's description says."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    settings = settings_for(database, operator_chat_id="@no_such_channel")
    async with AsyncExitStack() as stack:
        harness = await start_notifier(stack, settings, sandbox_app, Clock())
        await harness.publish(topics.CONTACT_SUBMITTED, contact())
        await eventually(lambda: _calls(sandbox, "getChat"))
        assert harness.dlq == []
        assert await harness.pending() == 1


async def _calls(sandbox: Any, method: str) -> int:
    calls = (await sandbox.http.get("/sandbox/telegram/calls")).json()["calls"]
    return int(calls.get(method, 0))


async def test_a_429_of_330_seconds_holds_every_topic_to_that_chat_for_the_whole_wait(
    harness, sandbox
):
    """The flood wait belongs to the chat (Bot API): another topic's lane to the same chat
    is held too, without a call, until the wait is over; then each is sent once."""
    await sandbox.queue_faults({"status": 429, "retry_after": 330, "hold_s": 0})
    await harness.publish(topics.CONTACT_SUBMITTED, contact(name="Patient"))

    async def rescheduled() -> list[str]:  # the 429 is read and its row waits
        return [e for e in await _last_errors(harness) if e and "retry after 330" in e]

    await eventually(rescheduled)
    harness.clock.advance(328)  # real seconds pass too: a margin of two
    other = NotifyRequested(channel="operator_telegram", text="another lane, same chat")
    await harness.publish(topics.NOTIFY, other)

    async def other_lane_held() -> list[str]:  # the marker: the other lane's row was tried
        return [e for e in await _last_errors(harness) if e and "still waits" in e]

    [held] = await eventually(other_lane_held)
    assert "still waits 2 s" in held  # 330 s in full, counted from the 429
    assert await sandbox.send_calls() == 1  # the 429 only: the held lane made no call
    assert await harness.pending() == 2
    harness.clock.advance(2.5)
    harness.nudge()
    await harness.settle()
    assert await sandbox.send_calls() == 3
    firsts = sorted(m["text"].split("\n")[0] for m in await sandbox.messages())
    assert "another lane, same chat" in firsts
    assert any("Name: Patient" in m["text"] for m in await sandbox.messages())


@pytest.mark.parametrize("body", ["json", "html"])
async def test_a_503_with_retry_after_waits_that_long_not_the_backoff(harness, sandbox, body):
    """RFC 9110 §10.2.3: a 503's Retry-After says how long the service is away."""
    await sandbox.queue_faults({"status": 503, "body": body, "retry_after_header": "120"})
    asked = time.time()
    await harness.publish(topics.CONTACT_SUBMITTED, contact())

    async def rescheduled() -> list[float]:
        engine = create_engine(harness.database)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(
                    text("SELECT not_before FROM deliveries WHERE last_error LIKE '%503%'")
                )
                return [float(row[0]) for row in rows.all()]
        finally:
            await engine.dispose()

    [not_before] = await eventually(rescheduled)
    assert not_before >= asked + 119  # not the backoff's 0.5 s
    assert await sandbox.send_calls() == 1


async def _last_errors(harness: Harness) -> list[str | None]:
    engine = create_engine(harness.database)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT last_error FROM deliveries"))
            return [row[0] for row in rows.all()]
    finally:
        await engine.dispose()


async def test_a_group_upgraded_to_a_supergroup_is_followed_and_remembered(
    tmp_path, sandbox_app, sandbox, caplog
):
    group, supergroup = "-4242", -1001234567890
    await sandbox.migrate(group, supergroup)
    database = f"sqlite+aiosqlite:///{tmp_path / 'n.db'}"
    settings = settings_for(database, operator_chat_id=group)
    async with AsyncExitStack() as stack:
        harness = await start_notifier(stack, settings, sandbox_app, Clock())
        with caplog.at_level(logging.WARNING):
            await harness.publish(topics.CONTACT_SUBMITTED, contact(name="First"))
            await harness.settle()
        await harness.publish(topics.CONTACT_SUBMITTED, contact(name="Second"))
        await harness.settle()
    messages = await sandbox.messages(str(supergroup))
    assert [m["chat"]["id"] for m in messages] == [supergroup, supergroup]
    assert await sandbox.send_calls() == 3  # one refusal, then straight to the supergroup
    assert f"CACHALOT_OPERATOR_CHAT_ID={supergroup}" in caplog.text
    async with AsyncExitStack() as stack:  # a restart remembers where the chat went
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            harness = await start_notifier(stack, settings, sandbox_app, Clock())
        assert f"CACHALOT_OPERATOR_CHAT_ID={supergroup}" in caplog.text
        await harness.publish(topics.CONTACT_SUBMITTED, contact(name="Third"))
        await harness.settle()
    assert await sandbox.send_calls() == 4
    assert len(await sandbox.messages(str(supergroup))) == 3


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
    await harness.settle()
    [message] = await sandbox.messages()
    assert message["text"].startswith("Post failed on TikTok\n")
    assert f"Post: {event.post_id}" in message["text"]
    assert "Reason: Video rejected: <too long>" in message["text"]


async def test_a_failed_post_links_its_trace_and_the_telegram_call_joins_that_trace(
    tmp_path: Path, sandbox_app: FastAPI, sandbox: Any
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
        trace_url_template="http://traces.test/redirects/traces/{trace_id}",
    )
    async with AsyncExitStack() as stack:
        harness = await start_notifier(stack, settings, sandbox_app, Clock(), provider)
        # the queue publishes the status inside the post's trace
        with provider.get_tracer("queue").start_as_current_span("queue result") as queue_span:
            await harness.publish(topics.POSTS_STATUS, post_status("failed"))
        await harness.settle()
    trace_id = f"{queue_span.get_span_context().trace_id:032x}"
    [message] = await sandbox.messages()
    assert f"Trace: http://traces.test/redirects/traces/{trace_id}\n" in message["text"]
    [send] = [s for s in exporter.get_finished_spans() if s.name == "notifier send telegram"]
    assert send.context is not None
    assert f"{send.context.trace_id:032x}" == trace_id  # the sender ran later, in that trace
    calls = [s for s in exporter.get_finished_spans() if s.parent == send.context]
    assert calls  # the Bot API call itself, under the send


async def test_a_failed_post_says_how_many_attempts_were_made(harness, sandbox):
    event = post_status("failed").model_copy(update={"attempt": 3})
    await harness.publish(topics.POSTS_STATUS, event)
    await harness.settle()
    [message] = await sandbox.messages()
    assert "Attempts: 3\n" in message["text"]


async def test_an_unconfirmed_post_asks_for_a_check_and_is_not_called_a_failure(harness, sandbox):
    event = post_status("unconfirmed", "Telegram: we could not confirm whether it went out")
    await harness.publish(topics.POSTS_STATUS, event)
    await harness.settle()
    [message] = await sandbox.messages()
    assert message["text"].startswith("Please check: a post on TikTok is unconfirmed\n")
    assert f"Post: {event.post_id}" in message["text"]
    assert "we could not confirm whether it went out" in message["text"]
    assert "fail" not in message["text"].lower()


async def test_other_post_states_are_not_the_operators_business(harness, sandbox):
    await harness.publish(topics.POSTS_STATUS, post_status("published", None))
    await harness.settle()
    assert await harness.app.state.deliveries.lane_heads() == []
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
    await harness.settle()
    [message] = await sandbox.messages()
    assert message["text"].startswith("YouTube account needs re-authorisation\n")
    assert "Account: Ada's channel" in message["text"]
    assert "Reason: invalid_grant: token revoked" in message["text"]


async def test_a_telegram_channel_our_bot_cannot_post_to_is_not_called_a_reauthorisation(
    harness, sandbox
):
    fix = "add @cachalot_bot as an administrator of the channel, then link it again"
    event = account("needs_channel").model_copy(
        update={"platform": "telegram", "code": "channel_link_broken", "reason": fix}
    )
    fresh = account("needs_channel").model_copy(  # a sign-in with no channel yet: no message
        update={"platform": "telegram", "code": "channel_not_linked", "reason": "link one"}
    )
    await harness.publish(topics.ACCOUNTS, fresh)
    await harness.publish(topics.ACCOUNTS, event)
    await harness.settle()
    [message] = await sandbox.messages()
    assert message["text"].startswith("Telegram channel cannot be posted to\n")
    assert f"Reason: {fix}" in message["text"]
    assert "re-authorisation\n" not in message["text"]
    assert "no re-authorisation is needed" in message["text"]


async def test_notify_requests_for_the_operator_are_sent_and_emails_are_skipped(harness, sandbox):
    await harness.publish(
        topics.NOTIFY,
        NotifyRequested(channel="operator_telegram", subject="Queue <stuck>", text="10 > 5 & 1"),
    )
    await harness.publish(
        topics.NOTIFY, NotifyRequested(channel="email", recipient="a@example.org", text="hi")
    )
    await harness.settle()
    [message] = await sandbox.messages()
    assert message["text"].startswith("Queue <stuck>\n10 > 5 & 1\n\n")


class Names:
    """Auth's answers about clients, as the notifier reads them (``ContactBook``): a label
    per known client; ``down``: auth does not answer."""

    def __init__(self, labels: dict[uuid.UUID, str], *, down: bool = False) -> None:
        self.labels = labels
        self.down = down

    async def lookup(self, client_id: uuid.UUID) -> Contact | None:
        if self.down:
            raise ContactUnavailable("auth unreachable (ConnectError)")
        label = self.labels.get(client_id)
        return None if label is None else Contact(email=None, label=label)


async def test_every_operator_message_names_the_client_as_the_console_does_with_its_id_beside(
    tmp_path: Path, sandbox_app: FastAPI, sandbox: Any
) -> None:
    failed, reauth = post_status("failed"), account("reauth_required")
    answered = ProposalAnswered(
        answer="changes_requested",
        client_id=uuid.uuid4(),
        operator_id=uuid.uuid4(),
        delivery_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
        comment="Shorter",
    )
    names = Names(
        {
            failed.client_id: "ada@example.org",
            reauth.client_id: "Ada's <channel>",
            answered.client_id: "bea@example.org",
        }
    )
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    async with AsyncExitStack() as stack:
        harness = await start_notifier(stack, settings, sandbox_app, Clock(), contacts=names)
        await harness.publish(topics.POSTS_STATUS, failed)
        await harness.publish(topics.ACCOUNTS, reauth)
        await harness.publish(topics.NOTIFY, answered)
        await harness.settle()
    first, second, third = (m["text"] for m in await sandbox.messages())
    assert f"Client: ada@example.org\nClient id: {failed.client_id}\n" in first
    assert f"Client: Ada's <channel>\nClient id: {reauth.client_id}\n" in second
    assert third.startswith(
        f"Changes requested\nbea@example.org asks for changes to proposal {answered.proposal_id}"
    )
    assert f"Client {answered.client_id}" not in third


async def test_a_client_auth_cannot_name_now_or_has_erased_is_said_so_and_the_message_goes(
    tmp_path: Path, sandbox_app: FastAPI, sandbox: Any
) -> None:
    settings = settings_for(f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}")
    erased = post_status("failed")
    async with AsyncExitStack() as stack:
        harness = await start_notifier(stack, settings, sandbox_app, Clock(), contacts=Names({}))
        await harness.publish(topics.POSTS_STATUS, erased)
        await harness.settle()
    async with AsyncExitStack() as stack:
        down = Names({}, down=True)
        harness = await start_notifier(stack, settings, sandbox_app, Clock(), contacts=down)
        unknown = post_status("failed")
        await harness.publish(topics.POSTS_STATUS, unknown)
        await harness.settle()
    first, second = (m["text"] for m in await sandbox.messages())
    assert f"Client: {ERASED}\nClient id: {erased.client_id}\n" in first
    assert f"Client: {UNNAMED}\nClient id: {unknown.client_id}\n" in second


async def test_a_clients_answer_to_a_proposal_tells_the_operator_in_words(harness, sandbox):
    client, operator = uuid.uuid4(), uuid.uuid4()
    delivery, proposal, post = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    approved = ProposalAnswered(
        answer="approved",
        client_id=client,
        operator_id=operator,
        delivery_id=delivery,
        proposal_id=proposal,
        post_id=post,
        scheduled_at=datetime(2026, 12, 4, 9, 30, tzinfo=UTC),
        platforms=["tiktok", "vk"],
    )
    asked = ProposalAnswered(
        answer="changes_requested",
        client_id=client,
        operator_id=operator,
        delivery_id=delivery,
        proposal_id=proposal,
        comment="Shorter <please> \u200b & quicker",
    )
    await harness.publish(topics.NOTIFY, asked)
    await harness.publish(topics.NOTIFY, approved)
    await harness.settle()
    first, second = await sandbox.messages()
    assert first["text"].startswith(
        f"Changes requested\n{UNNAMED} asks for changes to proposal {proposal}:\n"
        "Shorter <please> ⟨U+200B⟩ & quicker\n"
    )
    assert second["text"].startswith(
        f"Proposal approved\n{UNNAMED} approved proposal {proposal}: post {post} is "
        "queued for 2026-12-04 09:30:00 UTC on TikTok, VK.\n"
    )
    assert f"Delivery: {delivery}" in second["text"]


async def test_an_approved_proposal_links_the_trace_its_post_was_queued_in(
    tmp_path: Path, sandbox_app: FastAPI, sandbox: Any
) -> None:
    provider = TracerProvider()
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path / 'notifier.db'}",
        trace_url_template="http://traces.test/redirects/traces/{trace_id}",
    )
    approved = ProposalAnswered(
        answer="approved",
        client_id=uuid.uuid4(),
        operator_id=uuid.uuid4(),
        delivery_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
        post_id=uuid.uuid4(),
        platforms=["tiktok"],
    )
    async with AsyncExitStack() as stack:
        harness = await start_notifier(stack, settings, sandbox_app, Clock(), provider)
        # the queue sends the answer inside the approval's trace, the one its post travels in
        with provider.get_tracer("queue").start_as_current_span("queue approve") as approve:
            await harness.publish(topics.NOTIFY, approved)
        await harness.settle()
    trace_id = f"{approve.get_span_context().trace_id:032x}"
    [message] = await sandbox.messages()
    assert message["text"].startswith("Proposal approved\n")
    assert f"Trace: http://traces.test/redirects/traces/{trace_id}\n" in message["text"]


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    return str(request.getfixturevalue("postgres_database"))


async def test_two_replicas_on_one_database_given_the_same_events_send_each_once(
    shared_database, sandbox_app, sandbox
):
    """Both replicas record and both senders race for every row (a slow Telegram keeps
    each send in flight long enough for the other to see it pending)."""
    settings = settings_for(shared_database)
    await sandbox.slow_down(0.3)
    events = [contact(name=f"Twice {i}") for i in range(4)]
    async with AsyncExitStack() as stack:
        first = await start_notifier(stack, settings, sandbox_app, Clock())
        second = await start_notifier(stack, settings, sandbox_app, Clock())
        for event in events:
            await asyncio.gather(
                first.publish(topics.CONTACT_SUBMITTED, event),
                second.publish(topics.CONTACT_SUBMITTED, event),
            )
        await first.settle()
        await second.settle()
    texts = [m["text"] for m in await sandbox.messages()]
    for i in range(4):
        assert sum(f"Name: Twice {i}\n" in text for text in texts) == 1, texts
    assert await sandbox.send_calls() == 4


async def test_a_slow_answer_times_out_and_is_retried(tmp_path, sandbox_http, sandbox_process):
    """Over real sockets, through the app's own HTTP client: its timeout (0.3 s) ends the
    first try long before the slow answer, a 401 that would hold the message for a minute
    had the client waited for it; the retry delivers it."""
    await sandbox_http.queue_faults({"status": 401, "delay_s": 5.0})
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path / 'n.db'}",
        telegram_api_base=f"{sandbox_process.base_url}/telegram",
        telegram_timeout_s=0.3,
        telegram_misconfigured_pause_s=60,
    )
    async with AsyncExitStack() as stack:
        harness = await start_notifier(stack, settings, None, Clock())
        started = time.monotonic()
        await harness.publish(topics.CONTACT_SUBMITTED, contact(name="Slow"))
        await harness.settle(timeout=10)
        elapsed = time.monotonic() - started
        assert elapsed < 4.0, elapsed  # well before the slow answer came
    [message] = await sandbox_http.messages()
    assert "Name: Slow" in message["text"]
    assert await sandbox_http.send_calls() == 2


# ---- issue 11 (A3): bidirectional controls never reach the operator's Telegram

RLO = "\u202e"
ISOLATES = "\u2066\u2067\u2068\u2069"
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


async def test_a_right_to_left_override_in_a_contact_message_is_shown_as_its_code(harness, sandbox):
    # The input: the operator would read "Pay 0001 USD" for what was typed.
    event = contact(name=f"Ada{RLO}evil", message=f"Pay {RLO}DSU 1000{ISOLATES} now\u200b")
    await harness.publish(topics.CONTACT_SUBMITTED, event)
    await harness.settle()
    [message] = await sandbox.messages()
    text = message["text"]
    assert not BIDI & set(text)
    assert "Name: Ada⟨U+202E⟩evil\n" in text
    assert "Pay ⟨U+202E⟩DSU 1000⟨U+2066⟩⟨U+2067⟩⟨U+2068⟩⟨U+2069⟩ now⟨U+200B⟩" in text


@pytest.mark.parametrize("parse_mode", ["MarkdownV2"], indirect=True)
async def test_in_markdown_v2_mode_bidi_controls_are_shown_as_codes_too(
    harness, sandbox, parse_mode
):
    await harness.publish(topics.CONTACT_SUBMITTED, contact(message=f"a{RLO}b_c"))
    await harness.settle()
    [message] = await sandbox.messages()
    assert "a⟨U+202E⟩b_c" in message["text"]
    assert RLO not in message["text"]


async def test_bidi_controls_in_reasons_names_and_notices_are_shown_as_codes(harness, sandbox):
    failed = post_status("failed", f"Refused: {RLO}gnp.exe")
    changed = account("reauth_required").model_copy(
        update={"display_name": f"Ada{RLO}'s channel", "reason": f"x{ISOLATES}y"}
    )
    notice = NotifyRequested(
        channel="operator_telegram", subject=f"Client {RLO}Ada", text="note \u2067z\u2069"
    )
    await harness.publish(topics.POSTS_STATUS, failed)
    await harness.publish(topics.ACCOUNTS, changed)
    await harness.publish(topics.NOTIFY, notice)
    await harness.settle()
    texts = [m["text"] for m in await sandbox.messages()]
    assert len(texts) == 3
    joined = "\n".join(texts)
    assert not BIDI & set(joined)
    assert "Reason: Refused: ⟨U+202E⟩gnp.exe" in joined
    assert "Account: Ada⟨U+202E⟩'s channel" in joined
    assert "Reason: x⟨U+2066⟩⟨U+2067⟩⟨U+2068⟩⟨U+2069⟩y" in joined
    assert "Client ⟨U+202E⟩Ada" in joined
    assert "note ⟨U+2067⟩z⟨U+2069⟩" in joined


async def test_emoji_sequences_and_joiners_that_write_a_word_arrive_unchanged(harness, sandbox):
    scotland = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    typed = f"👨\u200d👩\u200d👧 می\u200cخواهم {scotland} 1️⃣"
    await harness.publish(topics.CONTACT_SUBMITTED, contact(message=typed))
    await harness.settle()
    [message] = await sandbox.messages()
    assert f"\n\n{typed}\n\n" in message["text"]


async def test_a_long_message_full_of_overrides_is_cut_between_whole_characters(harness, sandbox):
    typed = f"1️⃣{RLO}" * 1000  # 4,000 code points: each override grows to 9 characters shown
    await harness.publish(topics.CONTACT_SUBMITTED, contact(message=typed))
    await harness.settle()
    [message] = await sandbox.messages()
    text = message["text"]
    assert not BIDI & set(text)
    body = text.split("\n\n", 1)[1]
    assert "1️⃣⟨U+202E⟩1️⃣" in body
    # no keycap split from its digit by the cut
    assert "1\ufe0f" not in body.replace("1\ufe0f\u20e3", "")


async def test_a_long_reason_telegram_gives_is_stored_cut_between_whole_characters(
    harness, sandbox
):
    keycaps = "1\ufe0f\u20e3" * 150  # 450 code points: the stored reason (300) must cut them
    refused = {"status": 400, "description": f"Bad Request: x{keycaps}"}
    await sandbox.queue_faults(refused, refused)
    await harness.publish(topics.CONTACT_SUBMITTED, contact())
    await harness.settle()
    [stored] = await _last_errors(harness)
    assert stored is not None
    assert len(stored) <= 300
    assert stored.endswith("1\ufe0f\u20e3…")


# ---- issue 13 item 7: dead letters are counted for the CachalotDeadLettersGrowing alert


def dead_letters(topic: str) -> float:
    return REGISTRY.get_sample_value("cachalot_dead_letters_total", {"topic": topic}) or 0.0


async def test_every_message_parked_in_a_dlq_is_counted_by_its_source_topic(harness, sandbox):
    before = dead_letters(topics.CONTACT_SUBMITTED)
    # undecodable: parked by the consumer kit
    await harness.broker.publish(b"{not json", topic=topics.CONTACT_SUBMITTED, key=b"bad")
    assert dead_letters(topics.CONTACT_SUBMITTED) == before + 1
    # refused for good by Telegram: parked by the sender
    too_long = {"status": 400, "description": "Bad Request: message is too long"}
    await sandbox.queue_faults(too_long, too_long)
    await harness.publish(topics.CONTACT_SUBMITTED, contact())
    await harness.settle()
    assert len(harness.dlq) == 2
    assert dead_letters(topics.CONTACT_SUBMITTED) == before + 2
