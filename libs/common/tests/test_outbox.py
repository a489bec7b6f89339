"""The shared outbox relay's Kafka publish: straight to the producer, trace kept."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from faststream import BaseMiddleware
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from cachalot_common.outbox import Batch, OutboxRelay, Outgoing, kafka_publish, produce
from cachalot_common.wakeup import Wakeup


class OneBatch:
    """An outbox source holding ``events`` until the relay acknowledges them."""

    def __init__(self, events: list[Outgoing]) -> None:
        self.events = events
        self.acknowledged = False

    @contextlib.asynccontextmanager
    async def batch(self, limit: int) -> AsyncIterator[Batch]:
        async def acknowledge() -> None:
            self.acknowledged = True

        yield Batch([] if self.acknowledged else self.events[:limit], acknowledge)

    async def wait(self, wake: Wakeup, seconds: float) -> None:
        return None

    async def close(self) -> None:
        return None


class PublishScopes(BaseMiddleware):
    """Counts the broker's publish middleware calls (a composition-root middleware)."""

    calls = 0

    async def publish_scope(self, call_next: Any, cmd: Any) -> Any:
        PublishScopes.calls += 1
        return await call_next(cmd)


async def test_a_relayed_event_goes_straight_to_the_producer_with_its_trace_and_type() -> None:
    broker = KafkaBroker(middlewares=[PublishScopes])
    seen: list[KafkaMessage] = []

    @broker.subscriber("outbox.test.v1")
    async def handle(message: KafkaMessage) -> None:
        seen.append(message)

    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{'2' * 16}-01"
    source = OneBatch(
        [
            Outgoing("outbox.test.v1", "k1", b'{"n": 1}', {"traceparent": traceparent}),
            Outgoing("outbox.test.v1", "k2", b'{"n": 2}'),
        ]
    )
    async with TestKafkaBroker(broker):
        relay = OutboxRelay(source, kafka_publish(broker))
        assert await relay.drain() == 2
    assert source.acknowledged
    assert PublishScopes.calls == 0, "no publish middleware runs for a relayed record"
    # two keys: the relay sends a batch together, and order holds per key only (DESIGN)
    seen.sort(key=lambda m: m.raw_message.key)
    assert [m.body for m in seen] == [b'{"n": 1}', b'{"n": 2}']
    assert [m.raw_message.key for m in seen] == [b"k1", b"k2"]
    assert seen[0].headers["content-type"] == "application/json"
    assert seen[0].headers["traceparent"].split("-")[1] == trace_id
    assert "traceparent" not in seen[1].headers, "an event without a trace carries none"
    assert seen[0].correlation_id


async def test_a_record_produced_with_a_tracer_names_its_producer_span_in_its_traceparent() -> None:
    """The publishers' results (issue 9, issue 13's one trace): straight to the producer,
    yet one PRODUCER span with the messaging attributes, child of the caller's span,
    and the record's ``traceparent`` names that span."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    broker = KafkaBroker(middlewares=[PublishScopes])
    seen: list[KafkaMessage] = []

    @broker.subscriber("results.test.v1")
    async def handle(message: KafkaMessage) -> None:
        seen.append(message)

    calls = PublishScopes.calls
    async with TestKafkaBroker(broker):
        with tracer.start_as_current_span("publish a post") as outer:
            await produce(broker, "results.test.v1", b"post-1", b'{"n": 1}', tracer=tracer)
    assert PublishScopes.calls == calls, "no publish middleware runs"
    [span] = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.PRODUCER]
    assert span.name == "results.test.v1 publish"
    assert span.parent is not None
    assert span.parent.span_id == outer.get_span_context().span_id
    assert dict(span.attributes or {}) == {
        "messaging.system": "kafka",
        "messaging.destination.name": "results.test.v1",
        "messaging.operation": "publish",
        "messaging.kafka.message.key": "post-1",
        "messaging.message.conversation_id": seen[0].correlation_id,
    }
    _, trace_id, parent_id, _ = seen[0].headers["traceparent"].split("-")
    assert trace_id == f"{span.context.trace_id:032x}"
    assert parent_id == f"{span.context.span_id:016x}"
