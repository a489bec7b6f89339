"""The one result sink: ``posts.result.v1``, keyed by post id.

Final results (published, failed, retryable) are sent and their broker
acknowledgement awaited: the runtime commits a command's offset only after
its final result is safely stored. Progress results are only handed to the
producer (their acknowledgement is not awaited one by one; a lost progress
report is harmless, the next one or the final result supersedes it).

Each goes straight to the broker's producer (:func:`cachalot_common.outbox.produce`)
inside one PRODUCER span with the messaging attributes, the record's ``traceparent``
naming it, not through FastStream's publish middlewares (two spans, a logging scope
and a metrics observation per record: issue 9).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.events import PublishResult
from cachalot_common.kafka import encode
from cachalot_common.outbox import produce
from cachalot_common.topics import POSTS_RESULT

logger = logging.getLogger(__name__)


class ResultSink(Protocol):
    async def send(self, result: PublishResult) -> None:
        """Send ``result``; for a final result, return only once the broker has it."""
        ...


class KafkaResults:
    """Results to ``posts.result.v1`` through the app's broker's producer (trace context
    included); ``tracer_provider``: the broker's (a PRODUCER span per result; ``None``:
    none, as the broker then has no telemetry either)."""

    def __init__(self, broker: KafkaBroker, tracer_provider: TracerProvider | None = None) -> None:
        self._broker = broker
        self._tracer = None if tracer_provider is None else tracer_provider.get_tracer(__name__)

    async def send(self, result: PublishResult) -> None:
        final = result.type != "progress"
        sent = await produce(
            self._broker,
            POSTS_RESULT,
            str(result.post_id).encode(),
            encode(result),
            confirm=final,
            tracer=self._tracer,
        )
        if isinstance(sent, asyncio.Future) and not final:
            sent.add_done_callback(_log_failure)


def _log_failure(future: asyncio.Future[object]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("a progress result was not delivered: %s", type(future.exception()).__name__)
