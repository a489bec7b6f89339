"""E-mail to clients, end to end inside the notifier: events on a real Tansu broker,
deliveries in a real PostgreSQL, mail over real SMTP to an ``aiosmtpd`` server
on a free port, read back from what that server received.

The notifier runs in this process (its app's lifespan), so a test can run two
replicas of it over one database and one consumer group; the client's
address comes from a contact book passed through the composition root (the
lookup at auth is tested in auth's own tests).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from faststream.kafka import KafkaBroker
from sqlalchemy import text

from cachalot_common import topics
from cachalot_common.db import create_engine
from cachalot_common.events import (
    AccountChanged,
    ClientNoticeRequested,
    PostStatusChanged,
    SessionEnded,
)
from cachalot_common.kafka import build_broker, publish_event
from cachalot_common.sessions import COOKIE_NAME, issue_session, read_session
from cachalot_common.settings import KafkaSettings
from cachalot_notifier.contacts import Contact
from cachalot_notifier.main import create_app
from cachalot_notifier.operator_api import STATES
from cachalot_notifier.settings import NotifierSettings
from cachalot_testing.ports import free_port

# a consumer-group join on Tansu takes seconds, and more on a loaded machine
pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BOT_TOKEN = "918273645:AAnotifierTESTtokenNEVERinLOGS_12345"
SESSION_SECRET = "unsubscribe-signing-TEST-secret-never-in-mail-0123456789"
SERVICE_SECRET = "notifier-service-TEST-secret-never-in-mail-0123456789"
SENDER = "CACHALOT <notices@cachalot.test>"


class Inbox:
    """What the SMTP server received; ``refuse`` makes it answer the next DATA with a code."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.refusals: list[str] = []
        self.attempts = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.attempts += 1
        if self.refusals:
            return self.refusals.pop(0)
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 OK: queued"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for _, rcpts, m in self.messages if address in rcpts]


@pytest.fixture(scope="module")
def smtp_server() -> Any:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def inbox(smtp_server: Any) -> Inbox:
    _, box = smtp_server
    box.refusals.clear()
    return box


class Contacts:
    """A contact book in memory (auth's lookup, through the composition root)."""

    def __init__(self) -> None:
        self.known: dict[uuid.UUID, Contact] = {}

    async def lookup(self, client_id: uuid.UUID) -> Contact | None:
        return self.known.get(client_id)

    def add(self, language: str = "en") -> tuple[uuid.UUID, str]:
        client_id = uuid.uuid4()
        address = f"client-{client_id.hex[:10]}@example.test"
        self.known[client_id] = Contact(email=address, language=language)  # type: ignore[arg-type]
        return client_id, address


@pytest.fixture
def contacts() -> Contacts:
    return Contacts()


@pytest.fixture
def database(postgres: Any) -> str:
    return str(postgres.create_database(f"notifier_mail_{uuid.uuid4().hex[:10]}"))


def settings_for(database: str, bootstrap: str, idempotence: bool, smtp_port: int) -> Any:
    return NotifierSettings(
        kafka_bootstrap=bootstrap,
        kafka_idempotence=idempotence,
        database_url=database,
        telegram_bot_token=BOT_TOKEN,  # type: ignore[arg-type]
        operator_chat_id="777002",
        telegram_api_base="http://127.0.0.1:9/telegram",  # no Telegram: the mail is the point
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_starttls=False,
        smtp_from=SENDER,
        smtp_backoff_initial_s=0.1,
        smtp_backoff_max_s=0.3,
        smtp_timeout_s=5,
        session_secret=SESSION_SECRET,  # type: ignore[arg-type]
        service_secret=SERVICE_SECRET,  # type: ignore[arg-type]
        public_url="https://cachalot.test",
        kafka_session_timeout_ms=3000,
        # Each test its own group: after two replicas leave one group, Tansu keeps the one
        # that left during the rebalance as the group's leader, and every later member of
        # that group waits for a SyncGroup that never comes (Apache Kafka elects a new one).
        consumer_group=f"notifier-{uuid.uuid4().hex[:8]}",
    )


@asynccontextmanager
async def notifiers(
    count: int, settings: Any, contacts: Contacts
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """``count`` notifier replicas (one group, one database); an HTTP client for each."""
    stack = AsyncExitStack()
    async with stack:
        clients = []
        for _ in range(count):
            app = create_app(settings, contacts=contacts, sender_poll_s=0.1)
            # a start is bounded by nothing: each group consumer waits for its partition
            # assignment (aiokafka's start), which a broker that never completes the
            # group's join never gives; such a hang shows its stacks too
            starting = asyncio.ensure_future(
                stack.enter_async_context(app.router.lifespan_context(app))
            )
            done, _ = await asyncio.wait({starting}, timeout=120)
            if not done:
                print_tasks("a notifier did not start within 120 s")
            await starting
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="https://cachalot.test"
            )
            clients.append(await stack.enter_async_context(client))
        try:
            yield clients
        finally:
            # the notifiers' shutdown is bounded (their lifespan gives up on a stuck
            # task after 10 s): a longer one is a fault, shown with every task's stack
            closing = asyncio.create_task(stack.aclose())
            done, _ = await asyncio.wait({closing}, timeout=60)
            if not done:
                print_tasks("the notifiers did not stop within 60 s")
            await closing


@pytest.fixture
async def producer(kafka_bootstrap: str, kafka_idempotence: bool) -> AsyncIterator[KafkaBroker]:
    settings = KafkaSettings(kafka_bootstrap=kafka_bootstrap, kafka_idempotence=kafka_idempotence)
    broker = build_broker(settings, client_id="test-mail-producer")
    await broker.start()
    yield broker
    await broker.stop()


async def eventually(
    probe: Callable[[], Any], *, timeout: float = 120.0, every: float = 0.1
) -> Any:
    """``probe()``'s first truthy value; its last value after ``timeout`` seconds, when the
    stack of every task still running is printed (what the notifier was stuck in)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if isinstance(value, Awaitable):
            try:
                value = await asyncio.wait_for(value, max(deadline - time.monotonic(), 1))
            except TimeoutError:
                print_tasks(f"the probe did not answer within {timeout} s")
                raise
        if value:
            return value
        if time.monotonic() > deadline:
            print_tasks(f"nothing within {timeout} s")
            return value
        await asyncio.sleep(every)


def print_tasks(why: str) -> None:
    """Print every asyncio task's stack (a hang's evidence, instead of a bare timeout)."""
    print(f"--- {why}: the tasks still running ---")
    for task in asyncio.all_tasks():
        print(f"task {task.get_name()}:")
        task.print_stack(limit=12)


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return str(part.get_content())


def failed(client_id: uuid.UUID, reason: str) -> PostStatusChanged:
    return PostStatusChanged(
        post_id=uuid.uuid4(),
        target_id=uuid.uuid4(),
        client_id=client_id,
        account_id=uuid.uuid4(),
        platform="tiktok",
        status="failed",
        previous="publishing",
        reason=reason,
    )


@pytest.fixture
def settings(database: str, kafka_bootstrap: str, kafka_idempotence: bool, smtp_server: Any) -> Any:
    controller, _ = smtp_server
    return settings_for(database, kafka_bootstrap, kafka_idempotence, controller.port)


async def test_a_target_that_failed_for_good_sends_the_client_one_email_in_text_and_html(
    settings, contacts, inbox, producer, caplog
):
    caplog.set_level(logging.DEBUG)
    client_id, address = contacts.add()
    event = failed(client_id, "The sandbox refused the video: spam_risk_too_many_posts")
    async with notifiers(1, settings, contacts):
        await publish_event(producer, topics.POSTS_STATUS, event, key=str(event.post_id))
        await publish_event(producer, topics.POSTS_STATUS, event, key=str(event.post_id))
        [mail] = await eventually(lambda: inbox.to(address))
        await asyncio.sleep(1.0)  # the redelivered event must add nothing
    assert len(inbox.to(address)) == 1
    assert mail["Subject"] == "Your post to TikTok failed"
    assert mail["From"] == SENDER
    assert mail["Auto-Submitted"] == "auto-generated"
    text, html = body_of(mail, "plain"), body_of(mail, "html")
    for part in (text, html):
        assert str(event.post_id) in part
        assert "spam_risk_too_many_posts" in part
    # RFC 8058 one-click headers; the link is an HTTPS URI and the only one of its kind
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(mail["List-Unsubscribe"]).strip("<>")
    assert link.startswith("https://cachalot.test/api/v1/notices/unsubscribe?")
    raw = mail.as_string()
    for secret in (SESSION_SECRET, SERVICE_SECRET, BOT_TOKEN, BOT_TOKEN.split(":")[1]):
        assert secret not in raw
    # the notifier's own log lines (not the test SMTP server's, "mail.log"): the
    # mailer said what it did, and never to which address
    ours = [r for r in caplog.records if not r.name.startswith("mail.log")]
    assert any("e-mail notice" in r.getMessage() for r in ours)
    assert not [r.getMessage() for r in ours if address in r.getMessage()]


async def test_a_russian_client_reads_a_failure_reason_with_a_known_code_in_russian(
    settings, contacts, inbox, producer
):
    client_id, address = contacts.add(language="ru")
    event = failed(
        client_id, "TikTok: this account has reached its daily posting limit. Try again tomorrow."
    ).model_copy(update={"code": "spam_risk_too_many_posts"})
    async with notifiers(1, settings, contacts):
        await publish_event(producer, topics.POSTS_STATUS, event, key=str(event.post_id))
        [mail] = await eventually(lambda: inbox.to(address))
    text = body_of(mail, "plain")
    assert "Причина: TikTok: аккаунт исчерпал дневной лимит публикаций." in text
    assert "daily posting limit" not in text


async def test_an_account_to_reconnect_is_told_in_russian_when_that_is_the_clients_language(
    settings, contacts, inbox, producer
):
    client_id, address = contacts.add(language="ru")
    event = AccountChanged(
        type="reauth_required",
        account_id=uuid.uuid4(),
        client_id=client_id,
        platform="youtube",
        display_name="Канал <Ады>",
        reason="Google revoked the refresh token (invalid_grant)",
    )
    async with notifiers(1, settings, contacts):
        await publish_event(producer, topics.ACCOUNTS, event, key=str(event.account_id))
        [mail] = await eventually(lambda: inbox.to(address))
    assert mail["Subject"] == "Подключите аккаунт YouTube заново"
    assert mail["Content-Language"] == "ru"
    assert "Канал <Ады>" in body_of(mail, "plain")
    assert "Канал &lt;Ады&gt;" in body_of(mail, "html")  # shown, never interpreted
    assert "invalid_grant" in body_of(mail, "plain")


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_a_telegram_channel_to_link_again_is_worded_as_linking_not_reconnecting(
    settings, contacts, inbox, producer, language
):
    client_id, address = contacts.add(language=language)
    fix = "add @cachalot_bot as an administrator of the channel, then link it again"
    not_linked = AccountChanged(
        type="needs_channel",
        account_id=uuid.uuid4(),
        client_id=client_id,
        platform="telegram",
        display_name="Ada",
        code="channel_not_linked",  # a fresh sign-in: nothing broke, no e-mail
        reason="link a channel first",
    )
    broken = not_linked.model_copy(
        update={"event_id": uuid.uuid4(), "code": "channel_link_broken", "reason": fix}
    )
    async with notifiers(1, settings, contacts):
        for event in (not_linked, broken):
            await publish_event(producer, topics.ACCOUNTS, event, key=str(event.account_id))
        [mail] = await eventually(lambda: inbox.to(address))
        await asyncio.sleep(1.0)
    assert len(inbox.to(address)) == 1
    text = body_of(mail, "plain")
    assert fix in text
    if language == "en":
        assert mail["Subject"] == "Link your Telegram channel again"
        assert "no need to sign in again" in text
    else:
        assert mail["Subject"] == "Привяжите канал Telegram заново"
        assert "входить заново не нужно" in text.lower()
    for word in ("reconnect", "подключите", "connected again", "no longer accepts"):
        assert word not in (mail["Subject"] + text).lower()


@pytest.mark.parametrize("language", ["en", "ru"])
async def test_an_unconfirmed_post_is_mailed_as_please_check_never_as_a_failure(
    settings, contacts, inbox, producer, language
):
    client_id, address = contacts.add(language=language)
    reason = "Telegram: we could not confirm whether the post went out. Check your channel."
    event = failed(client_id, reason).model_copy(
        update={"status": "unconfirmed", "platform": "telegram"}
    )
    async with notifiers(1, settings, contacts):
        await publish_event(producer, topics.POSTS_STATUS, event, key=str(event.post_id))
        [mail] = await eventually(lambda: inbox.to(address))
    text = body_of(mail, "plain")
    assert reason in text
    assert str(event.post_id) in text
    if language == "en":
        assert mail["Subject"] == "Please check your post on Telegram"
        assert "mark it as published" in text
        assert "publish it again" in text
    else:
        assert mail["Subject"] == "Проверьте публикацию в Telegram"
        assert "отметьте её в панели как опубликованную" in text
        assert "опубликуйте её снова" in text
    for word in ("failed", "will not be tried", "не удалась", "повторных попыток не будет"):
        assert word not in (mail["Subject"] + text).lower()


async def test_a_policy_version_reaches_each_eligible_client_exactly_once_with_two_notifiers(
    settings, contacts, inbox, producer
):
    clients = [contacts.add(), contacts.add("ru"), contacts.add()]
    version = f"2026-12-{uuid.uuid4().hex[:6]}"
    async with notifiers(2, settings, contacts) as (first, _second):
        # one of them switched notices off: the policy notice goes anyway
        opted_out = clients[2][0]
        links = urlsplit(_link_for(first, opted_out))
        await first.post(
            f"{links.path}?{links.query}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        for client_id, _ in clients:
            event = ClientNoticeRequested(
                client_id=client_id, notice="policy_changed", policy_version=version
            )
            # auth's outbox may send an event twice, and a second event of one version
            # (the operator publishing twice) must not double it either
            twin = ClientNoticeRequested(
                client_id=client_id, notice="policy_changed", policy_version=version
            )
            for each in (event, event, twin):
                await publish_event(producer, topics.NOTIFY, each, key=str(client_id))
        await eventually(lambda: all(inbox.to(address) for _, address in clients))
        await asyncio.sleep(1.5)  # both replicas had every chance to send again
    for _, address in clients:
        [mail] = inbox.to(address)
        assert version in str(mail["Subject"])
        assert mail["List-Unsubscribe"] is None  # the policy notice cannot be switched off
    assert "Политика конфиденциальности" in str(inbox.to(clients[1][1])[0]["Subject"])


def _link_for(client: httpx.AsyncClient, client_id: uuid.UUID) -> str:
    app: Any = client._transport.app  # type: ignore[attr-defined]
    return str(app.state.mailer._links.url(client_id))


async def test_a_client_who_clicked_unsubscribe_gets_no_more_failure_emails(
    settings, contacts, inbox, producer
):
    client_id, address = contacts.add()
    async with notifiers(1, settings, contacts) as (notifier,):
        first = failed(client_id, "first failure")
        await publish_event(producer, topics.POSTS_STATUS, first, key=str(first.post_id))
        [mail] = await eventually(lambda: inbox.to(address))
        link = urlsplit(str(mail["List-Unsubscribe"]).strip("<>"))
        target = f"{link.path}?{link.query}"
        page = await notifier.get(target)  # a GET (a link scanner) changes nothing
        assert page.status_code == 200
        assert '<form method="post"' in page.text
        forged = dict(parse_qs(link.query), s=["AAAAAAAAAAAAAAAAAAAAAA"])
        refused = await notifier.post(
            link.path,
            params={k: v[0] for k, v in forged.items()},
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert refused.status_code == 404
        # what a mail provider sends for List-Unsubscribe-Post (RFC 8058 §3.2)
        done = await notifier.post(
            target,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200
        second = failed(client_id, "second failure")
        await publish_event(producer, topics.POSTS_STATUS, second, key=str(second.post_id))
        app: Any = notifier._transport.app  # type: ignore[attr-defined]
        store = app.state.mailer._store
        states = await eventually(lambda: _states_done(store, client_id, 2))
    assert [s[1] for s in states] == ["sent", "skipped"]
    assert len(inbox.to(address)) == 1


async def _states_done(store: Any, client_id: uuid.UUID, count: int) -> Any:
    states = await store.states(client_id)
    if len(states) == count and all(s[1] != "pending" for s in states):
        return states
    return None


async def test_a_transient_smtp_refusal_is_retried_and_a_permanent_one_recorded(
    settings, contacts, inbox, producer
):
    client_id, address = contacts.add()
    inbox.refusals[:] = ["451 4.3.0 Try again later", "421 4.7.0 Busy, closing"]
    async with notifiers(1, settings, contacts) as (notifier,):
        event = failed(client_id, "refused twice, then accepted")
        await publish_event(producer, topics.POSTS_STATUS, event, key=str(event.post_id))
        [mail] = await eventually(lambda: inbox.to(address))
        assert "refused twice" in body_of(mail, "plain")
        app: Any = notifier._transport.app  # type: ignore[attr-defined]
        store = app.state.mailer._store
        # the row is marked sent just after the server took the mail: wait for that write
        [(kind, state, attempts, _)] = await eventually(lambda: _states_done(store, client_id, 1))
        assert (kind, state, attempts) == ("post_failed", "sent", 3)

        doomed_id, doomed = contacts.add()
        inbox.refusals[:] = ["554 5.7.1 Message rejected"]
        bad = failed(doomed_id, "refused for good")
        await publish_event(producer, topics.POSTS_STATUS, bad, key=str(bad.post_id))
        states = await eventually(lambda: _states_done(store, doomed_id, 1))
    [(_, state, attempts, error)] = states
    assert (state, attempts) == ("failed", 1)
    assert error.startswith("SMTP 554 5.7.1")
    assert doomed not in error  # the address is never recorded
    assert inbox.to(doomed) == []


async def _policy_counts(
    client: httpx.AsyncClient, cookie: str, version: str, recorded: int
) -> Any:
    answer = await client.get("/api/v1/operator/policy-deliveries", cookies={COOKIE_NAME: cookie})
    assert answer.status_code == 200, answer.text
    found = [item for item in answer.json()["items"] if item["version"] == version]
    if not found or found[0]["pending"] or sum(found[0][s] for s in STATES) < recorded:
        return None  # not every e-mail recorded and finished yet
    return found[0]


async def test_an_operator_reads_how_many_policy_emails_were_delivered_failed_and_skipped(
    settings, contacts, inbox, producer
):
    """What became of each requested e-mail (issue 12): one delivered, one refused for good
    by the SMTP server, one client with no address any more. Operators only; a session
    auth announces ended on sessions.v1 is refused within seconds."""
    reached, refused = contacts.add(), contacts.add()
    gone = uuid.uuid4()  # erased since: auth knows no address
    version = f"counts-{uuid.uuid4().hex[:6]}"
    operator, _ = issue_session(
        client_id=uuid.uuid4(), secret=SESSION_SECRET, lifetime_s=600, role="operator"
    )
    client, _ = issue_session(client_id=reached[0], secret=SESSION_SECRET, lifetime_s=600)
    inbox.refusals.append("550 5.1.1 mailbox unavailable")  # the first DATA, for good
    async with notifiers(1, settings, contacts) as (notifier,):
        for client_id in (reached[0], refused[0], gone):
            event = ClientNoticeRequested(
                client_id=client_id, notice="policy_changed", policy_version=version
            )
            await publish_event(producer, topics.NOTIFY, event, key=str(client_id))
        counts = await eventually(lambda: _policy_counts(notifier, operator, version, 3))
        assert counts is not None, "the policy e-mails were never all handled"
        assert (counts["sent"], counts["failed"], counts["skipped"]) == (1, 1, 1)
        assert len([m for _, rcpts, m in inbox.messages if version in str(m["Subject"])]) == 1

        nobody = await notifier.get("/api/v1/operator/policy-deliveries")
        assert nobody.status_code == 401
        assert nobody.headers["content-type"].startswith("application/problem+json")
        wrong = await notifier.get(
            "/api/v1/operator/policy-deliveries", cookies={COOKIE_NAME: client}
        )
        assert wrong.status_code == 403

        # the operator signs out: auth announces it, and the cookie stops working here
        ended = read_session(operator, secret=SESSION_SECRET)
        signed_out = SessionEnded(
            type="revoked",
            client_id=ended.client_id,
            session_id=ended.session_id,
            expires_at=datetime.fromtimestamp(ended.expires_at, UTC),
        )
        await publish_event(producer, topics.SESSIONS, signed_out, key=str(ended.client_id))

        async def refused_now() -> bool:
            answer = await notifier.get(
                "/api/v1/operator/policy-deliveries", cookies={COOKIE_NAME: operator}
            )
            return answer.status_code == 401

        assert await eventually(refused_now, timeout=60)


async def test_an_erased_client_is_named_by_no_row_of_the_notifier(
    settings, contacts, inbox, producer, database
):
    """Auth's ``deleted`` (the client erased its data): the sent e-mail, the policy notice,
    the opt-out and the operator's messages (Telegram is unreachable here: still waiting)
    keep nothing that names the client, and a redelivered event records nothing again."""
    client_id, address = contacts.add()
    version = f"2026-12-{uuid.uuid4().hex[:6]}"
    event = failed(client_id, "refused")
    async with notifiers(1, settings, contacts) as (notifier,):
        links = urlsplit(_link_for(notifier, client_id))
        await notifier.post(
            f"{links.path}?{links.query}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        policy = ClientNoticeRequested(
            client_id=client_id, notice="policy_changed", policy_version=version
        )
        await publish_event(producer, topics.NOTIFY, policy, key=str(client_id))
        await eventually(lambda: inbox.to(address))
        await publish_event(producer, topics.POSTS_STATUS, event, key=str(event.post_id))
        app: Any = notifier._transport.app  # type: ignore[attr-defined]
        await eventually(lambda: _states_done(app.state.mailer._store, client_id, 2))
        deleted = AccountChanged(
            type="deleted",
            account_id=event.account_id,
            client_id=client_id,
            platform="tiktok",
            reason="the client erased their data",
        )
        await publish_event(producer, topics.ACCOUNTS, deleted, key=str(event.account_id))

        async def naming() -> list[str]:
            found = []
            engine = create_engine(database)
            try:
                async with engine.connect() as db:
                    for table in ("deliveries", "email_notices", "notice_opt_outs"):
                        for row in (await db.execute(text(f"SELECT * FROM {table}"))).all():
                            if str(client_id) in " ".join(str(v) for v in row):
                                found.append(f"{table}: {row}")
            finally:
                await engine.dispose()
            return found

        async def none_left() -> bool:
            return not await naming()

        assert await eventually(none_left, timeout=60), await naming()
        # the failed post's event again (a redelivery): its rows are still known by their
        # event, so nothing is recorded or sent again; then the erasure again: a no-op
        await publish_event(producer, topics.POSTS_STATUS, event, key=str(event.post_id))
        await publish_event(producer, topics.ACCOUNTS, deleted, key=str(event.account_id))
        marker = failed(uuid.uuid4(), "sent after the redeliveries")
        await publish_event(producer, topics.POSTS_STATUS, marker, key=str(marker.post_id))
        await eventually(lambda: _states_done(app.state.mailer._store, marker.client_id, 1))
        assert await none_left(), await naming()
    assert len(inbox.to(address)) == 1  # the policy notice, once


async def test_a_notifier_that_mails_declares_auth_as_a_dependency_it_waits_out(
    settings: Any, contacts: Contacts
) -> None:
    """Client e-mails wait while auth cannot give an address, so ``/readyz`` names auth
    among its ``dependencies`` (issue 13 item 6); a test's own contact book replaces
    auth, and then nothing is declared. It failed when the client-label lookup made the
    auth contact book for every notifier and the check read it as injected."""

    async def dependencies(app: Any) -> set[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://notifier") as http:
            answer = await http.get("/readyz")
        return set(answer.json().get("dependencies", {}))

    assert await dependencies(create_app(settings)) == {"auth"}
    assert await dependencies(create_app(settings, contacts=contacts)) == set()
