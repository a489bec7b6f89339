"""Reading ``<topic>.dlq`` and sending one of its messages back: the operator's tooling.

A consumer parks a message it cannot handle in ``<topic>.dlq`` with its key,
its headers and ``x-dlq-*`` headers saying why and from where
(:func:`cachalot_common.kafka.send_record_to_dlq`: ``x-dlq-reason``,
``x-dlq-source-topic``, ``x-dlq-source-partition``, ``x-dlq-source-offset``).
This module reads those topics without a consumer group (nothing is
committed, nobody else's position moves) and re-drives one record after a
fix: the same value and key to its source topic, its own headers without the
``x-dlq-*`` ones, plus :data:`REDRIVEN_FROM` naming the dead letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from cachalot_common import topics
from cachalot_common.redaction import redact
from cachalot_common.text import prefix

DLQ_HEADER_PREFIX = "x-dlq-"
REASON = "x-dlq-reason"
SOURCE_TOPIC = "x-dlq-source-topic"
REDRIVEN_FROM = "x-redriven-from"
"""Header on a re-driven message: ``<dlq topic>/<partition>/<offset>`` it came back from."""
REDRIVEN_BY = "x-redriven-by"
"""Header on a re-driven message: who sent it back (an operator id)."""
MAX_VALUE_CHARS = 4000


def source_topics() -> tuple[str, ...]:
    """Every topic whose consumers may dead-letter (DESIGN.md "Kafka topics")."""
    return (
        topics.CONTACT_SUBMITTED,
        topics.ACCOUNTS,
        topics.POSTS_RESULT,
        topics.POSTS_STATUS,
        topics.NOTIFY,
        topics.SESSIONS,
        *(topics.publish_topic(p) for p in topics.PLATFORMS),
    )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of ``<topic>.dlq``: where it is, what it holds, why it is there."""

    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    timestamp: datetime | None
    source_topic: str = field(default="")
    reason: str | None = None

    def public(self) -> dict[str, Any]:
        """For the operator: text fields (the value cut to :data:`MAX_VALUE_CHARS`), each
        passed through :func:`cachalot_common.redaction.redact` (a parked record may carry
        anything, a token among it; the re-drive still sends the record as it was)."""
        text = redact(self.value.decode("utf-8", "replace"))
        return {
            "dlq_topic": self.dlq_topic,
            "partition": self.partition,
            "offset": self.offset,
            "key": redact(self.key.decode("utf-8", "replace")) if self.key is not None else None,
            "source_topic": self.source_topic,
            "reason": redact(self.reason) if self.reason is not None else None,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "headers": {name: redact(value) for name, value in self.headers.items()},
            "value": prefix(text, MAX_VALUE_CHARS),
            "value_truncated": len(text) > MAX_VALUE_CHARS,
        }


def _letter(record: Any, dlq_topic: str) -> DeadLetter:
    headers = {
        str(k): v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        for k, v in (record.headers or ())
    }
    stamp = record.timestamp
    return DeadLetter(
        dlq_topic=dlq_topic,
        partition=int(record.partition),
        offset=int(record.offset),
        key=record.key,
        value=record.value or b"",
        headers=headers,
        timestamp=datetime.fromtimestamp(stamp / 1000, UTC) if stamp else None,
        source_topic=headers.get(SOURCE_TOPIC, ""),
        reason=headers.get(REASON),
    )


class DeadLetterReader:
    """Reads dead-letter topics with a throw-away, group-less consumer per call.

    ``bootstrap``: the Kafka bootstrap servers; ``timeout_s``: the longest a
    call may wait on the broker before it answers with what it has.
    """

    def __init__(self, bootstrap: str, *, timeout_s: float = 5.0) -> None:
        self._bootstrap = bootstrap
        self._timeout_s = timeout_s

    @contextlib.asynccontextmanager
    async def _consumer(self) -> AsyncIterator[AIOKafkaConsumer]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            request_timeout_ms=int(self._timeout_s * 1000),
        )
        await consumer.start()
        try:
            yield consumer
        finally:
            await consumer.stop()

    async def _partitions(self, consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
        # The whole cluster's metadata: asking for one topic could create it (auto-create).
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(topic) or set()
        return [TopicPartition(topic, p) for p in sorted(partitions)]

    async def latest(self, source_topic: str, *, limit: int = 50) -> list[DeadLetter]:
        """The newest ``limit`` records of ``<source_topic>.dlq``, newest first (none if the
        topic does not exist yet)."""
        dlq_topic = topics.dlq(source_topic)
        async with self._consumer() as consumer:
            parts = await self._partitions(consumer, dlq_topic)
            if not parts:
                return []
            consumer.assign(parts)
            ends = await consumer.end_offsets(parts)
            starts = await consumer.beginning_offsets(parts)
            wanted = 0
            for tp in parts:
                first = max(starts[tp], ends[tp] - limit)
                consumer.seek(tp, first)
                wanted += ends[tp] - first
            letters: list[DeadLetter] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._timeout_s
            while len(letters) < wanted and loop.time() < deadline:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    letters.extend(_letter(r, dlq_topic) for r in records)
        letters.sort(key=lambda d: (d.timestamp or datetime.min.replace(tzinfo=UTC), d.offset))
        return list(reversed(letters))[:limit]

    async def one(self, source_topic: str, *, partition: int, offset: int) -> DeadLetter | None:
        """The record at ``partition``/``offset`` of ``<source_topic>.dlq``, or None."""
        dlq_topic = topics.dlq(source_topic)
        async with self._consumer() as consumer:
            tp = TopicPartition(dlq_topic, partition)
            if tp not in await self._partitions(consumer, dlq_topic):
                return None
            consumer.assign([tp])
            ends = await consumer.end_offsets([tp])
            starts = await consumer.beginning_offsets([tp])
            if not starts[tp] <= offset < ends[tp]:
                return None
            consumer.seek(tp, offset)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self._timeout_s
            while loop.time() < deadline:
                batch = await consumer.getmany(tp, timeout_ms=200)
                for record in batch.get(tp, []):
                    if record.offset == offset:
                        return _letter(record, dlq_topic)
                    if record.offset > offset:
                        return None
        return None


Publish = Callable[[bytes, str, bytes | None, Mapping[str, str]], Awaitable[None]]
"""``(value, topic, key, headers)``: sends one message and returns once the broker has it."""


def redrive_headers(letter: DeadLetter, *, by: str) -> dict[str, str]:
    """The re-driven message's headers: its own without ``x-dlq-*``, plus where from and who."""
    kept = {k: v for k, v in letter.headers.items() if not k.startswith(DLQ_HEADER_PREFIX)}
    kept[REDRIVEN_FROM] = f"{letter.dlq_topic}/{letter.partition}/{letter.offset}"
    kept[REDRIVEN_BY] = by
    return kept


async def redrive(letter: DeadLetter, publish: Publish, *, by: str) -> str:
    """Send ``letter`` back to its source topic with its key; the topic it went to."""
    target = letter.source_topic or letter.dlq_topic.removesuffix(".dlq")
    await publish(letter.value, target, letter.key, redrive_headers(letter, by=by))
    return target


def record_digest(letter: DeadLetter) -> str:
    """The record's identity beside its position: SHA-256 (64 hex digits) of its timestamp
    (ms), key, value and headers, each length-prefixed so no two records share an input.

    A position (topic, partition, offset) names a record only while the broker keeps its
    log: a broker that restarted empty (Tansu keeps nothing) writes new dead letters at
    the offsets of the old ones. The producer's timestamp and the content tell them apart.
    """
    digest = hashlib.sha256()

    def part(data: bytes) -> None:
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)

    stamp = round(letter.timestamp.timestamp() * 1000) if letter.timestamp else -1
    part(str(stamp).encode())
    part(b"\x01" + letter.key if letter.key is not None else b"\x00")
    part(letter.value)
    for name, value in sorted(letter.headers.items()):
        part(name.encode())
        part(value.encode())
    return digest.hexdigest()
