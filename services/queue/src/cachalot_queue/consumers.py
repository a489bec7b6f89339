"""Batch consumption with the shared decode-or-DLQ rule.

Results arrive by the thousand when a backlog drains; handling a batch in one
transaction (one read of all its targets, one commit) is what keeps the queue
ahead. Each record is decoded alone: an undecodable one goes to
``<topic>.dlq`` with its key and headers and the rest of the batch goes on.
The offsets are committed after the handler succeeds; on an error the whole
batch is delivered again, which the idempotent handlers absorb.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from pydantic import BaseModel, ValidationError

from cachalot_common.kafka import describe_validation_error, send_record_to_dlq

ModelT = TypeVar("ModelT", bound=BaseModel)


async def _raw_records(message: StreamMessage[Any]) -> Any:
    """Skip FastStream's JSON decoding: a poison record must not fail the batch."""
    return [record.value or b"" for record in message.raw_message]


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
        decoder=_raw_records,
        **options,
    )(consume)
