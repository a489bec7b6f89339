"""Kafka wiring: decode-or-DLQ, ack after success, against memory and a real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer
from faststream.kafka import TestKafkaBroker

from cachalot_common.consuming import subscribe
from cachalot_common.events import ContactSubmitted
from cachalot_common.kafka import build_broker, encode, publish_event
from cachalot_common.settings import KafkaSettings


def _event() -> ContactSubmitted:
    return ContactSubmitted(
        name="Ann", contact="@ann_smith", contact_kind="telegram", category="other", message="hi"
    )


async def test_handler_gets_the_decoded_event_in_memory() -> None:
    broker = build_broker(KafkaSettings(), client_id="t")
    seen: list[ContactSubmitted] = []

    async def handle(event: ContactSubmitted) -> None:
        seen.append(event)

    subscribe(broker, "contact.submitted.v1", ContactSubmitted, handle, group_id="t")
    async with TestKafkaBroker(broker) as test_broker:
        event = _event()
        await test_broker.publish(encode(event), topic="contact.submitted.v1", key=b"k")
    assert [e.event_id for e in seen] == [event.event_id]


async def test_poison_message_goes_to_the_dlq_in_memory() -> None:
    broker = build_broker(KafkaSettings(), client_id="t")
    parked: list[bytes] = []

    async def handle(event: ContactSubmitted) -> None:
        raise AssertionError("must not be called")

    subscribe(broker, "contact.submitted.v1", ContactSubmitted, handle, group_id="t")

    @broker.subscriber("contact.submitted.v1.dlq")
    async def on_dlq(body: bytes) -> None:
        parked.append(body)

    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"{not json", topic="contact.submitted.v1", key=b"k")
    assert parked == [b"{not json"]


async def test_real_broker_parks_poison_and_delivers_the_next_good_message(
    kafka_bootstrap: str, kafka_idempotence: bool
) -> None:
    topic = f"t{uuid.uuid4().hex[:8]}.v1"
    settings = KafkaSettings(kafka_bootstrap=kafka_bootstrap, kafka_idempotence=kafka_idempotence)
    broker = build_broker(settings, client_id="test")
    received: asyncio.Queue[ContactSubmitted] = asyncio.Queue()

    async def handle(event: ContactSubmitted) -> None:
        await received.put(event)

    subscribe(broker, topic, ContactSubmitted, handle, group_id=f"g-{topic}")
    await broker.start()
    try:
        await broker.publish(b'{"oops": true}', topic=topic, key=b"bad")
        good = _event()
        await publish_event(broker, topic, good, key=str(good.event_id))
        got = await asyncio.wait_for(received.get(), timeout=30)
        assert got.event_id == good.event_id
    finally:
        await broker.stop()

    consumer = AIOKafkaConsumer(
        f"{topic}.dlq", bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        records = [r for rs in batch.values() for r in rs]
    finally:
        await consumer.stop()
    assert [r.value for r in records] == [b'{"oops": true}']
    assert records[0].key == b"bad"
    headers = dict(records[0].headers)
    assert b"undecodable" in headers["x-dlq-reason"]


async def test_every_broadcast_subscriber_reads_the_whole_topic_and_retries_a_failure(
    kafka_bootstrap: str, kafka_idempotence: bool
) -> None:
    topic = f"b{uuid.uuid4().hex[:8]}.v1"
    settings = KafkaSettings(kafka_bootstrap=kafka_bootstrap, kafka_idempotence=kafka_idempotence)
    first = build_broker(settings, client_id="replica-1")
    second = build_broker(settings, client_id="replica-2")
    seen: dict[str, list[uuid.UUID]] = {"replica-1": [], "replica-2": []}
    failures = [1]

    def recorder(name: str) -> Callable[[ContactSubmitted], Awaitable[None]]:
        async def handle(event: ContactSubmitted) -> None:
            if name == "replica-1" and failures:
                failures.pop()
                raise RuntimeError("database away for a moment")
            seen[name].append(event.event_id)

        return handle

    events = [_event(), _event()]
    await first.start()  # publish before the subscribers exist: they read from the start
    try:
        for event in events:
            await publish_event(first, topic, event, key="k")
    finally:
        await first.stop()
    first = build_broker(settings, client_id="replica-1")
    subscribe(first, topic, ContactSubmitted, recorder("replica-1"), group_id=None)
    subscribe(second, topic, ContactSubmitted, recorder("replica-2"), group_id=None)
    await first.start()
    await second.start()
    try:
        wanted = [e.event_id for e in events]
        for _ in range(300):
            if seen["replica-1"] == wanted and seen["replica-2"] == wanted:
                break
            await asyncio.sleep(0.1)
    finally:
        await first.stop()
        await second.stop()
    assert seen == {"replica-1": wanted, "replica-2": wanted}
