"""The notifier as it runs: a real process on a real Tansu broker, PostgreSQL for the
deliveries table, and the sandbox Telegram served over real HTTP by its own process.

One notifier is shared by the whole module (a consumer-group join on Tansu
takes seconds); each test tells its messages apart by their unique text.
Telegram's ``retry_after`` is honoured scaled by ``RETRY_AFTER_SCALE``
(``CACHALOT_TELEGRAM_RETRY_AFTER_SCALE``), so the platform's real numbers
(330 s) take seconds here.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from cachalot_common import topics
from cachalot_common.events import ContactSubmitted, NotifyRequested
from cachalot_common.kafka import build_broker, publish_event
from cachalot_common.settings import KafkaSettings
from cachalot_notifier.formatting import REPEAT_NOTICE
from cachalot_testing.fuzz import fuzz_service
from cachalot_testing.processes import ServiceProcess

pytestmark = pytest.mark.integration

BOT_TOKEN = "918273645:AAnotifierTESTtokenNEVERinLOGS_12345"
OPERATOR_CHAT = "777001"
RETRY_AFTER_SCALE = 0.02


@pytest.fixture(scope="module")
def sandbox_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    logs = tmp_path_factory.mktemp("sandbox")
    process = ServiceProcess(
        "cachalot_sandbox",
        env={"CACHALOT_TELEGRAM_BOT_TOKEN": BOT_TOKEN},
        log_path=logs / "sandbox.log",
    ).start(wait=False)  # becomes healthy while the notifier starts
    yield process
    process.stop()


@pytest.fixture(scope="module")
def notifier_database(postgres: Any) -> str:
    return str(postgres.create_database(f"notifier_{uuid.uuid4().hex[:10]}"))


@pytest.fixture(scope="module")
def notifier_env(
    sandbox_process: ServiceProcess,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    notifier_database: str,
) -> dict[str, str]:
    return {
        "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CACHALOT_KAFKA_IDEMPOTENCE": str(kafka_idempotence).lower(),
        "CACHALOT_DATABASE_URL": notifier_database,
        "CACHALOT_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "CACHALOT_OPERATOR_CHAT_ID": OPERATOR_CHAT,
        "CACHALOT_TELEGRAM_API_BASE": f"{sandbox_process.base_url}/telegram",
        "CACHALOT_TELEGRAM_BACKOFF_INITIAL_S": "0.05",
        "CACHALOT_TELEGRAM_BACKOFF_MAX_S": "0.2",
        "CACHALOT_TELEGRAM_TIMEOUT_S": "3",
        "CACHALOT_TELEGRAM_RETRY_AFTER_SCALE": str(RETRY_AFTER_SCALE),
        "CACHALOT_LOG_LEVEL": "DEBUG",
    }


@pytest.fixture(scope="module")
def notifier_process(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox_process: ServiceProcess,
    notifier_env: dict[str, str],
) -> Iterator[ServiceProcess]:
    logs = tmp_path_factory.mktemp("notifier")
    process = ServiceProcess(
        "cachalot_notifier", env=notifier_env, log_path=logs / "notifier.log"
    ).start(wait=False)
    # minutes, not seconds, on a machine shared with other jobs (80 s seen for the sandbox)
    sandbox_process.wait_healthy(timeout=240)
    process.wait_healthy(timeout=240)
    yield process
    process.stop()


class Operator:
    """Watches the operator's chat in the sandbox and drives its fault switch."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def messages(self) -> list[dict[str, Any]]:
        response = await self.http.get(
            "/sandbox/telegram/messages", params={"chat_id": OPERATOR_CHAT}
        )
        return list(response.json()["messages"])

    async def messages_with(self, marker: str) -> list[dict[str, Any]]:
        return [m for m in await self.messages() if marker in m["text"]]

    async def wait_for(self, marker: str, *, count: int = 1, timeout: float = 30.0) -> list[Any]:
        found = await eventually(lambda: self.messages_with(marker), timeout=timeout)
        assert len(found) == count, found
        return found

    async def quiet(self, period: float = 1.0, timeout: float = 30.0) -> None:
        """Wait until no sendMessage call arrived for ``period`` seconds."""
        deadline = time.monotonic() + timeout
        last = await self.send_calls()
        while time.monotonic() < deadline:
            await asyncio.sleep(period)
            now = await self.send_calls()
            if now == last:
                return
            last = now
        raise AssertionError("the notifier kept sending")

    async def send_calls(self) -> int:
        calls = (await self.http.get("/sandbox/telegram/calls")).json()["calls"]
        return int(calls.get("sendMessage", 0))

    async def ignored_waits(self) -> int:
        """Calls to the operator's chat the sandbox refused because it still owed a wait."""
        waits = (await self.http.get("/sandbox/telegram/waits")).json()
        return int(waits["ignored"].get(OPERATOR_CHAT, 0))

    async def queue_faults(self, *faults: dict[str, Any]) -> None:
        response = await self.http.post(
            "/sandbox/telegram/faults", json={"responses": list(faults)}
        )
        assert response.status_code == 201

    async def hold_answers(self, seconds: float) -> None:
        """The next sendMessage is posted to the chat, then its answer held ``seconds``."""
        response = await self.http.post("/sandbox/telegram/delays", json={"seconds": seconds})
        assert response.status_code == 201

    async def slow_down(self, seconds: float) -> None:
        body = {"send_delay_s": seconds}
        response = await self.http.put("/sandbox/telegram/latency", json=body)
        assert response.status_code == 200


async def eventually(
    probe: Callable[[], Awaitable[list[Any]]], *, timeout: float = 30.0
) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = await probe()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing arrived within {timeout}s")


@pytest.fixture(scope="module")
async def producer(kafka_bootstrap: str, kafka_idempotence: bool) -> AsyncIterator[KafkaBroker]:
    settings = KafkaSettings(kafka_bootstrap=kafka_bootstrap, kafka_idempotence=kafka_idempotence)
    broker = build_broker(settings, client_id="notifier-tests")
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture(scope="module")
async def operator(
    notifier_process: ServiceProcess, sandbox_process: ServiceProcess, producer: KafkaBroker
) -> AsyncIterator[Operator]:
    """Ready when a first submission went through: the consumer group has joined."""
    async with httpx.AsyncClient(base_url=sandbox_process.base_url, timeout=10) as http:
        watcher = Operator(http)
        warm_up = contact(name="Warm-up")
        await publish_event(producer, topics.CONTACT_SUBMITTED, warm_up, key=str(warm_up.event_id))
        await watcher.wait_for(str(warm_up.event_id), timeout=60)
        await watcher.quiet()  # earlier tests' submissions in the topic are through too
        yield watcher


def contact(**overrides: Any) -> ContactSubmitted:
    fields: dict[str, Any] = {
        "name": "Ada",
        "contact": "@ada_lovelace",
        "contact_kind": "telegram",
        "category": "video_production",
        "message": f"Hello {uuid.uuid4()}",
        "ip": "203.0.113.7",
    }
    return ContactSubmitted.model_validate({**fields, **overrides})


async def submit(producer: KafkaBroker, event: ContactSubmitted, key: str | None = None) -> None:
    await publish_event(producer, topics.CONTACT_SUBMITTED, event, key=key or str(event.event_id))


HOSTILE = {
    "html": "<b>not bold</b> <a href='x'>link</a> &amp; &lt;script&gt; a < b > c & d",
    "markdown": r"*a* _b_ __c__ ~d~ ||e|| `f` ```g``` [h](http://i) \ \\ _*[]()~`>#+-=|{}.!",
    "emoji": "😀 👍🏽 👨‍👩‍👧‍👦 🇺🇦 Кириллица 中文 עברית",
    "newlines": "first line\n\n  second, indented\n\tthird\nlast",
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_input_arrives_exactly_as_typed(operator, producer, case):
    marker = f"case-{case}-{uuid.uuid4()}"
    typed = f"{marker}\n{HOSTILE[case]}"
    await submit(producer, contact(name=f"<i>{case}</i> *_`", message=typed))
    [message] = await operator.wait_for(marker)
    assert f"Name: <i>{case}</i> *_`\n" in message["text"]
    assert f"\n\n{typed}\n\n" in message["text"]


async def test_a_4000_character_message_arrives_whole(operator, producer):
    marker = str(uuid.uuid4())
    typed = (marker + " <b>*_`\\ &amp; ") * 200
    typed = typed[:4000]
    await submit(producer, contact(name="Long", contact="+441234567890", message=typed))
    [message] = await operator.wait_for(marker[:36])
    assert message["text"].endswith("\n\n" + typed.rstrip())
    assert len(message["text"]) <= 4096


KEYCAP = "1\ufe0f\u20e3"  # 1️⃣: digit, emoji presentation selector, combining keycap
# Characters a reader sees as one, made of several code points (issue 11, item 3).
CLUSTERS = {
    "keycap": KEYCAP,
    "zwj family": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "flag": "\U0001f1fa\U0001f1e6",
    "combining accent": "e\u0301",
    "hangul jamo": "\u1100\u1161\u11a8",
}


@pytest.mark.parametrize("kind", sorted(CLUSTERS))
async def test_a_long_message_reaches_the_operator_cut_between_whole_characters(
    operator, producer, kind
):
    """The issue's input is ``1️⃣`` × 1,333 (3,999 code points, within the form's limit)."""
    unit = CLUSTERS[kind]
    typed = unit * (4000 // len(unit)) if kind != "keycap" else KEYCAP * 1333
    name = f"{kind}-{uuid.uuid4()}".ljust(100, "n")  # a long name makes the message cut
    await submit(producer, contact(name=name, message=typed))
    [message] = await operator.wait_for(name)
    text = message["text"]
    assert len(text.encode("utf-16-le")) // 2 <= 4096
    shown = text.split("Category: Video production\n\n", 1)[1]
    kept, marker = shown.split(" … [cut: ", 1)
    whole = len(kept) // len(unit)
    assert kept == unit * whole, kind
    assert marker == f"{len(typed) // len(unit) - whole} more characters]"


async def test_429_with_retry_after_then_200_is_delivered_once(operator, producer):
    calls_before = await operator.send_calls()
    await operator.queue_faults(
        {"status": 429, "retry_after": 50, "hold_s": 50 * RETRY_AFTER_SCALE}
    )
    event = contact()
    started = time.monotonic()
    await submit(producer, event)
    await operator.wait_for(str(event.event_id))
    assert time.monotonic() - started >= 50 * RETRY_AFTER_SCALE
    assert await operator.send_calls() - calls_before == 2


async def test_5xx_twice_then_200_is_delivered_once(operator, producer):
    calls_before = await operator.send_calls()
    await operator.queue_faults({"status": 500}, {"status": 502})
    event = contact()
    await submit(producer, event)
    await operator.wait_for(str(event.event_id))
    assert await operator.send_calls() - calls_before == 3


async def test_redelivered_event_sends_nothing_new(operator, producer):
    event = contact()
    await submit(producer, event)
    await operator.wait_for(str(event.event_id))
    calls_before = await operator.send_calls()
    await submit(producer, event)
    after = contact()
    await submit(producer, after, key=str(event.event_id))  # same partition, so processed later
    await operator.wait_for(str(after.event_id))
    assert len(await operator.messages_with(str(event.event_id))) == 1
    assert await operator.send_calls() - calls_before == 1


async def test_a_poison_message_goes_to_the_dlq_and_the_next_one_is_delivered(
    operator, producer, kafka_bootstrap
):
    key = f"poison-{uuid.uuid4()}"
    poison = b'{"name": "no closing brace"'
    await producer.publish(poison, topic=topics.CONTACT_SUBMITTED, key=key.encode())
    good = contact()
    await submit(producer, good, key=key)
    await operator.wait_for(str(good.event_id))
    parked = await read_dlq(kafka_bootstrap, topics.dlq(topics.CONTACT_SUBMITTED), key)
    assert parked.value == b'{"name": "no closing brace"'
    headers = dict(parked.headers)
    assert headers["x-dlq-source-topic"] == b"contact.submitted.v1"
    assert b"undecodable" in headers["x-dlq-reason"]


async def read_dlq(bootstrap: str, topic: str, key: str, timeout: float = 20.0) -> Any:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    if record.key == key.encode():
                        return record
    finally:
        await consumer.stop()
    raise AssertionError(f"{key} not in {topic} within {timeout}s")


async def test_the_bot_token_never_reaches_the_logs(operator, producer, notifier_process):
    # provoke the paths that log errors: retries after a 5xx and a proxy page
    await operator.queue_faults({"status": 503}, {"status": 500})
    event = contact()
    await submit(producer, event)
    await operator.wait_for(str(event.event_id))
    output = notifier_process.output()
    assert "retrying in" in output
    assert BOT_TOKEN not in output
    assert BOT_TOKEN.split(":")[1] not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert lines, "the notifier logs JSON lines"


JOINS = "assigned to partitions"
"""What FastStream logs each time the group gives the consumer its partitions (a rebalance)."""


async def uncommitted(bootstrap: str, topic: str, group: str = "notifier") -> int:
    """Messages of ``topic`` the ``group`` has not committed yet.

    Read with OffsetFetch by a consumer that names the group but only assigns
    partitions by hand: it never joins the group, and never commits.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        await consumer.topics()  # refreshes the metadata
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        left = 0
        for partition, end in ends.items():
            done = await consumer.committed(partition)
            left += end - (done if done is not None else 0)
        return left
    finally:
        await consumer.stop()


async def test_a_429_of_330_seconds_holds_the_chat_in_full_while_the_consumer_goes_on(
    operator, producer, notifier_process, kafka_bootstrap
):
    """Telegram's 330 s (6.6 s here) belongs to the chat: seven messages on two topics to
    the operator's chat wait it out in full, with no call to Telegram during the wait (the
    sandbox holds the chat as Telegram does, and counts a call that ignores it);
    meanwhile the handler has committed every event and the group is not rebalanced."""
    wait = 330 * RETRY_AFTER_SCALE
    joins_before = notifier_process.output().count(JOINS)
    assert joins_before >= 1  # the marker is logged: its count can tell a rebalance
    ignored_before = await operator.ignored_waits()
    calls_before = await operator.send_calls()
    await operator.queue_faults({"status": 429, "retry_after": 330, "hold_s": wait})
    held = contact(name="Held by a 429")
    started = time.monotonic()
    await submit(producer, held)
    await eventually(lambda: _more_calls(operator, calls_before))

    others = [contact(name=f"Same chat {i}") for i in range(3)]
    notes = [
        NotifyRequested(channel="operator_telegram", text=f"meanwhile {i} {uuid.uuid4()}")
        for i in range(3)
    ]
    for event in others:
        await submit(producer, event)
    for note in notes:
        await publish_event(producer, topics.NOTIFY, note, key="operator")
    for topic in (topics.CONTACT_SUBMITTED, topics.NOTIFY):
        assert await eventually(lambda t=topic: _none_left(kafka_bootstrap, t), timeout=wait / 2)
    assert time.monotonic() - started < wait  # all of the above happened inside the wait

    markers = [str(held.event_id), *(str(e.event_id) for e in others), *(n.text for n in notes)]
    for marker in markers:
        await operator.wait_for(marker, timeout=wait + 60)
    assert time.monotonic() - started >= wait
    await operator.quiet()
    assert await operator.send_calls() - calls_before == 1 + len(markers)  # the 429, then one each
    assert await operator.ignored_waits() == ignored_before  # never called during the wait
    output = notifier_process.output()
    assert "CommitFailedError" not in output
    assert output.count(JOINS) == joins_before


async def _none_left(bootstrap: str, topic: str, group: str = "notifier") -> list[bool]:
    return [True] if await uncommitted(bootstrap, topic, group) == 0 else []


async def test_two_replicas_on_one_database_send_each_event_once(
    operator, producer, notifier_env, tmp_path
):
    """A second notifier joins the group on the same database; every event is published
    twice under two keys, and Telegram answers slowly so sends overlap."""
    second = ServiceProcess(
        "cachalot_notifier", env=notifier_env, log_path=tmp_path / "second.log"
    ).start(timeout=90)
    try:
        await operator.slow_down(0.3)
        events = [contact(name=f"Replica test {i}") for i in range(6)]
        for event in events:
            await submit(producer, event)
            await submit(producer, event, key=f"again-{event.event_id}")
        for event in events:
            await operator.wait_for(str(event.event_id), timeout=90)
        marker = contact(name="After the replica test")
        await submit(producer, marker)
        await operator.wait_for(str(marker.event_id), timeout=60)
        await operator.quiet(period=2.0, timeout=60)
        for event in events:
            assert len(await operator.messages_with(str(event.event_id))) == 1
    finally:
        await operator.slow_down(0)
        second.stop()
    assert BOT_TOKEN not in second.output()


async def _at_least(operator: Operator, marker: str, count: int) -> list[dict[str, Any]]:
    found = await operator.messages_with(marker)
    return found if len(found) >= count else []


async def test_a_send_whose_answer_never_came_is_sent_again_marked_as_a_possible_repeat(
    operator, producer
):
    """Telegram posts the message but its answer comes after the notifier's timeout (3 s):
    the message may be in the chat, so the second send is headed by the repeat notice."""
    await operator.hold_answers(10)
    event = contact()
    await submit(producer, event)
    first, again = await eventually(lambda: _at_least(operator, str(event.event_id), 2))
    assert not first["text"].startswith(REPEAT_NOTICE)
    assert again["text"].startswith(REPEAT_NOTICE), again["text"]
    after = contact()
    await submit(producer, after)
    [plain] = await operator.wait_for(str(after.event_id))
    assert not plain["text"].startswith(REPEAT_NOTICE)
    assert len(await operator.messages_with(str(event.event_id))) == 2


async def test_a_submission_sent_when_the_notifier_was_killed_is_sent_again_marked_as_a_repeat(
    operator, producer, notifier_process
):
    """Telegram takes the message and holds its 200; the notifier is killed (SIGKILL)
    before it reads it, so the message id is never recorded. Restarted, it cannot know
    whether the message arrived (the Bot API has no idempotency key, and a bot cannot
    read the chat's history): it sends it again, headed by a notice saying it may repeat
    the one above, and only once more."""
    await operator.hold_answers(60)
    event = contact()
    await submit(producer, event)
    await operator.wait_for(str(event.event_id))  # in the chat; the 200 not yet read
    notifier_process.kill()
    notifier_process.start(wait=False)
    notifier_process.wait_healthy(timeout=120)
    first, again = await eventually(lambda: _at_least(operator, str(event.event_id), 2), timeout=90)
    assert not first["text"].startswith(REPEAT_NOTICE)
    assert again["text"].startswith(REPEAT_NOTICE), again["text"]
    marker = contact()
    await submit(producer, marker)
    [plain] = await operator.wait_for(str(marker.event_id), timeout=60)
    assert not plain["text"].startswith(REPEAT_NOTICE)
    assert len(await operator.messages_with(str(event.event_id))) == 2
    assert "sending it again marked as a possible repeat" in notifier_process.output()


@pytest.mark.timeout(900)  # two notifier starts: minutes on a loaded machine
async def _met_the_429(replicas: list[ServiceProcess]) -> list[ServiceProcess]:
    return [r for r in replicas if "telegram asked chat" in r.output()]


async def test_a_crash_mid_delivery_loses_nothing_and_the_restart_sends_once(
    operator, producer, notifier_process
):
    """Runs last: kills the shared notifier while a delivery waits out a 429 (recorded, its
    Kafka message already committed), then restarts it: the table delivers it once."""
    delivered_before = contact()
    await submit(producer, delivered_before)
    await operator.wait_for(str(delivered_before.event_id))

    await operator.queue_faults(
        {"status": 429, "retry_after": 500, "hold_s": 500 * RETRY_AFTER_SCALE}
    )
    calls_before = await operator.send_calls()
    event = contact()
    await submit(producer, event)
    await eventually(lambda: _more_calls(operator, calls_before))
    notifier_process.kill()  # SIGKILL while the delivery waits out the 429
    assert await operator.messages_with(str(event.event_id)) == []

    notifier_process.start(wait=False)
    notifier_process.wait_healthy(timeout=60)
    await operator.wait_for(str(event.event_id), timeout=60)
    await submit(producer, delivered_before)  # sent before the crash: the dedupe row survives
    marker = contact()
    await submit(producer, marker, key=str(delivered_before.event_id))
    await operator.wait_for(str(marker.event_id))
    assert len(await operator.messages_with(str(delivered_before.event_id))) == 1
    assert len(await operator.messages_with(str(event.event_id))) == 1


async def _more_calls(operator: Operator, before: int) -> list[int]:
    now = await operator.send_calls()
    return [now] if now > before else []


def test_generated_requests_to_the_notifier_get_no_5xx_and_only_documented_answers(
    notifier_process: ServiceProcess,
) -> None:
    """Schemathesis against its own OpenAPI document: the probes, the only HTTP it has."""
    report = fuzz_service(notifier_process.base_url, max_examples=10)
    print(report.summary())
    assert "GET /readyz" in report.operations, report.summary()
    assert report.findings == [], report.summary()


# Last: it stops the module's notifier (its replicas would share the topics) and restarts it
# without waiting. A notifier restarted after a second member had just left was once never
# given partitions on Tansu (its departed leader kept; cachalot_common.group_repair now
# frees such a group): no test after it depends on the module's notifier.
async def test_a_wait_one_replica_met_holds_the_other_replica_for_its_whole_length(
    operator, producer, notifier_process, notifier_env, postgres, kafka_bootstrap, tmp_path
):
    """Two replicas (one group, one database) run; one meets Telegram's 429 (3000 s, 60 s
    here) and is then frozen (SIGSTOP), so the other, which never met it, records and
    sends everything that comes during the wait. It sends nothing before the wait is
    over: it learns the chat's wait from the database (the sandbox counts every call
    made during a wait; before, that replica made one)."""
    wait = 3000 * RETRY_AFTER_SCALE
    group = f"notifier-waits-{uuid.uuid4().hex[:6]}"
    env = {
        **notifier_env,
        "CACHALOT_DATABASE_URL": str(postgres.create_database(f"notifier_{group[-6:]}")),
        "CACHALOT_CONSUMER_GROUP": group,
        "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": "3000",
    }
    notifier_process.stop()  # the module's notifier would send these messages too
    replicas = [
        ServiceProcess("cachalot_notifier", env=env, log_path=tmp_path / f"replica{i}.log")
        for i in (1, 2)
    ]
    frozen: list[int] = []
    try:
        for replica in replicas:  # one after the other: the first migrates the database
            replica.start(wait=False)
            replica.wait_healthy(timeout=240)
        warm_up = contact(name="Both replicas joined")
        await submit(producer, warm_up)
        await operator.wait_for(str(warm_up.event_id), timeout=120)
        await operator.quiet()

        ignored_before = await operator.ignored_waits()
        calls_before = await operator.send_calls()
        await operator.queue_faults({"status": 429, "retry_after": 3000, "hold_s": wait})
        held = contact(name="Held by a 429 one replica met")
        submitted = time.monotonic()
        await submit(producer, held)
        await eventually(lambda: _more_calls(operator, calls_before), timeout=wait / 4)
        started = time.monotonic()
        [met] = await eventually(lambda: _met_the_429(replicas), timeout=wait / 4)
        assert met.pid is not None
        os.kill(met.pid, signal.SIGSTOP)  # the replica that knows the wait from Telegram
        frozen.append(met.pid)

        others = [contact(name=f"Recorded by the other replica {i}") for i in range(3)]
        notes = [
            NotifyRequested(channel="operator_telegram", text=f"other {i} {uuid.uuid4()}")
            for i in range(3)
        ]
        for event in others:
            await submit(producer, event)
        for note in notes:
            await publish_event(producer, topics.NOTIFY, note, key=str(uuid.uuid4()))
        for topic in (topics.CONTACT_SUBMITTED, topics.NOTIFY):  # recorded, then committed
            left = wait - (time.monotonic() - started)
            assert await eventually(
                lambda t=topic: _none_left(kafka_bootstrap, t, group), timeout=left
            )
        assert time.monotonic() - started < wait  # all recorded inside the wait

        markers = [str(held.event_id), *(str(e.event_id) for e in others), *(n.text for n in notes)]
        for marker in markers:
            await operator.wait_for(marker, timeout=wait + 60)
        assert time.monotonic() - submitted >= wait
        await operator.quiet()
        assert await operator.ignored_waits() == ignored_before  # no call during the wait
        assert await operator.send_calls() - calls_before == 1 + len(markers)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        for replica in replicas:
            replica.stop()
        notifier_process.start(wait=False)  # the module fixture stops it at the end
    for replica in replicas:
        assert BOT_TOKEN not in replica.output()
