"""Kafka wiring on FastStream, the same for Apache Kafka and the embedded Tansu.

* producers wait for ``acks=all``; idempotence follows the setting (Tansu
  rejects idempotent producers, so embedded mode turns it off);
* consumers acknowledge after the handler succeeds, never before
  (``NACK_ON_ERROR``: a failed handler's message is delivered again);
* a message that does not decode goes to ``<topic>.dlq`` with its key and the
  reason, and the consumer carries on, so a poison message never blocks a
  partition;
* FastStream's telemetry middleware carries W3C trace context in headers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.message import StreamMessage
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel, ValidationError

from cachalot_common.settings import KafkaSettings
from cachalot_common.topics import dlq

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)


def build_broker(
    settings: KafkaSettings,
    *,
    client_id: str,
    tracer_provider: TracerProvider | None = None,
) -> KafkaBroker:
    """A broker configured for at-least-once delivery with traces across Kafka."""
    middlewares = []
    if tracer_provider is not None:
        middlewares.append(KafkaTelemetryMiddleware(tracer_provider=tracer_provider))
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        middlewares=middlewares,
        logger=logging.getLogger(f"faststream.{client_id}"),
        graceful_timeout=10.0,
    )


def consumer_options(settings: KafkaSettings) -> dict[str, Any]:
    """Subscriber options every consumer shares: group timing, where a new group starts."""
    session = settings.kafka_session_timeout_ms
    return {
        "auto_offset_reset": "earliest",
        "session_timeout_ms": session,
        "heartbeat_interval_ms": max(100, session // 3),
    }


async def start_broker(broker: KafkaBroker) -> None:
    """Connect and start every subscriber at once, not one after another.

    A group consumer's start waits for its partition assignment, and a
    broker may hold each join for seconds (Tansu: about five). FastStream's
    own ``start()`` starts subscribers in sequence, so a service with four
    subscriptions would wait four times; started together it waits once.
    """
    await broker.connect()
    await asyncio.gather(*(subscriber.start() for subscriber in broker.subscribers))
    for publisher in broker.publishers:
        await publisher.start()
    broker.running = True


def encode(event: BaseModel) -> bytes:
    """The wire form of every event: UTF-8 JSON of the pydantic model."""
    return event.model_dump_json().encode()


async def publish_event(
    broker: KafkaBroker, topic: str, event: BaseModel, *, key: str | bytes
) -> None:
    """Publish one event and wait for the broker's acknowledgement."""
    raw_key = key.encode() if isinstance(key, str) else key
    await broker.publish(
        encode(event),
        topic=topic,
        key=raw_key,
        headers={"content-type": "application/json"},
    )


def subscribe(
    broker: KafkaBroker,
    topic: str,
    model: type[ModelT],
    handler: Callable[[ModelT], Awaitable[None]],
    *,
    group_id: str | None,
    **options: Any,
) -> None:
    """Register ``handler`` for ``topic`` with decode-or-DLQ and ack-after-success.

    The handler receives the decoded model. Decoding happens here, not in
    FastStream's argument validation, so a poison message is caught, sent to
    ``<topic>.dlq`` and acknowledged instead of being retried forever.

    ``group_id=None`` makes a broadcast subscriber: no group, so every
    replica reads every partition from the start of the topic (nothing is
    committed; a restart reads it again, so the handler must be idempotent).
    A failed handler rewinds to its message, which is delivered again, as a
    group subscriber's would be. For state each replica keeps in memory,
    such as session revocations.
    """
    broadcast = group_id is None

    async def consume(body: bytes, message: KafkaMessage) -> None:
        try:
            event = model.model_validate_json(body)
        except ValidationError as error:
            await send_to_dlq(broker, topic, message, reason=describe_validation_error(error))
            return
        try:
            await handler(event)
        except Exception:
            if broadcast:  # no group to commit to: rewind so the message comes again
                await message.nack()
            raise

    consume.__name__ = f"on_{topic.replace('.', '_')}"
    options.setdefault("auto_offset_reset", "earliest")
    if broadcast:
        options["ack_policy"] = AckPolicy.MANUAL  # a commit needs a group
        for group_only in ("session_timeout_ms", "heartbeat_interval_ms"):
            options.pop(group_only, None)
    broker.subscriber(topic, group_id=group_id, decoder=raw_body, **options)(consume)


def subscribe_batch(
    broker: KafkaBroker,
    topic: str,
    model: type[ModelT],
    handler: Callable[[list[ModelT]], Awaitable[None]],
    *,
    group_id: str,
    max_records: int = 500,
    **options: Any,
) -> None:
    """Register ``handler`` for batches of up to ``max_records`` records of ``topic``.

    For consumers whose cost is per transaction, not per event (a backlog of
    status events or results arrives by the thousand): each record is decoded
    alone, an undecodable one goes to ``<topic>.dlq`` with its key and headers
    and the rest of the batch goes on; the handler gets the decoded models in
    partition order. Offsets are committed after the handler succeeds; on an
    error the whole batch is delivered again, so the handler must be idempotent.
    """

    async def consume(bodies: list[bytes], message: KafkaMessage) -> None:
        events: list[ModelT] = []
        for body, record in zip(bodies, message.raw_message, strict=True):
            try:
                events.append(model.model_validate_json(body))
            except ValidationError as error:
                await send_record_to_dlq(
                    broker, topic, record, body, reason=describe_validation_error(error)
                )
        if events:
            await handler(events)

    consume.__name__ = f"on_{topic.replace('.', '_')}_batch"
    options.setdefault("auto_offset_reset", "earliest")
    broker.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=50,
        decoder=raw_records,
        **options,
    )(consume)


async def raw_records(message: StreamMessage[Any]) -> Any:
    """A batch's raw record values (a batch subscriber's ``decoder``): FastStream's JSON
    decoding must not fail the batch; each record is decoded by the handler alone."""
    return [record.value or b"" for record in message.raw_message]


async def raw_body(message: StreamMessage[Any]) -> bytes:
    """Hand the handler the raw bytes: decoding (and its failures) is ours, not FastStream's."""
    return bytes(message.body)


async def send_to_dlq(
    broker: KafkaBroker, topic: str, message: KafkaMessage, *, reason: str
) -> None:
    """Park a message we cannot read, keeping its key and headers."""
    await send_record_to_dlq(broker, topic, message.raw_message, message.body, reason=reason)


async def send_record_to_dlq(
    broker: KafkaBroker, topic: str, record: Any, body: bytes, *, reason: str
) -> None:
    """Park one consumed record (an aiokafka ``ConsumerRecord``) as :func:`send_to_dlq` does.

    Batch consumers use it directly: their message carries many records.
    """
    headers = {
        k: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        for k, v in (getattr(record, "headers", None) or ())
    }
    headers.update(
        {
            "x-dlq-reason": reason,
            "x-dlq-source-topic": topic,
            "x-dlq-source-partition": str(getattr(record, "partition", "")),
            "x-dlq-source-offset": str(getattr(record, "offset", "")),
        }
    )
    await broker.publish(body, topic=dlq(topic), key=getattr(record, "key", None), headers=headers)
    logger.warning("message sent to %s: %s", dlq(topic), reason)


def describe_validation_error(error: ValidationError) -> str:
    """A short DLQ reason: the first failing field and its message, without the input value."""
    errors = error.errors()
    if not errors:
        return "undecodable message"
    loc = ".".join(str(p) for p in errors[0]["loc"]) or "body"
    return f"undecodable message: {loc}: {errors[0]['msg']}"[:300]
