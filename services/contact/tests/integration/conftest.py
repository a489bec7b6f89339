"""Reading ``contact.submitted.v1`` back from the real broker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from cachalot_common.events import ContactSubmitted
from cachalot_common.topics import CONTACT_SUBMITTED

Reader = Callable[[], Awaitable[list[ContactSubmitted]]]


async def read_topic(bootstrap: str, topic: str = CONTACT_SUBMITTED) -> list[ContactSubmitted]:
    """Every event on ``topic`` right now, from the beginning to the end offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():  # also refreshes the metadata
            return []
        numbers = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in numbers]
        if not assigned:
            return []
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        events: list[ContactSubmitted] = []
        async with asyncio.timeout(20):
            while [tp for tp in assigned if await consumer.position(tp) < ends[tp]]:
                batch = await consumer.getmany(*assigned, timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        event = ContactSubmitted.model_validate_json(record.value)
                        assert record.key == str(event.event_id).encode(), "key != event id"
                        events.append(event)
        return events
    finally:
        await consumer.stop()


@pytest.fixture
def topic_events(kafka_bootstrap: str) -> Reader:
    async def read() -> list[ContactSubmitted]:
        return await read_topic(kafka_bootstrap)

    return read


async def wait_for_ids(
    read: Reader, ids: set[str], timeout: float = 20.0
) -> list[ContactSubmitted]:
    """Poll the topic until every id in ``ids`` is there; return all events seen."""
    async with asyncio.timeout(timeout):
        while True:
            events = await read()
            if ids <= {str(e.event_id) for e in events}:
                return events
            await asyncio.sleep(0.2)


@pytest.fixture
def wait_for_events(topic_events: Reader) -> Callable[..., Awaitable[list[ContactSubmitted]]]:
    async def wait(ids: set[str], timeout: float = 20.0) -> list[ContactSubmitted]:
        return await wait_for_ids(topic_events, ids, timeout)

    return wait


@pytest.fixture(name="read_topic")
def read_topic_fixture() -> Callable[[str], Awaitable[list[ContactSubmitted]]]:
    """``await read_topic(bootstrap)`` for a broker of the test's own."""
    return read_topic


@pytest.fixture(name="wait_for_ids")
def wait_for_ids_fixture() -> Callable[..., Awaitable[list[ContactSubmitted]]]:
    return wait_for_ids
