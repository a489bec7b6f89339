"""The one result sink: ``posts.result.v1``, keyed by post id.

Final results (published, failed, retryable) are sent and their broker
acknowledgement awaited: the runtime commits a command's offset only after
its final result is safely stored. Progress results are only handed to the
producer (their acknowledgement is not awaited one by one; a lost progress
report is harmless, the next one or the final result supersedes it).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from faststream.kafka import KafkaBroker

from cachalot_common.events import PublishResult
from cachalot_common.kafka import encode
from cachalot_common.topics import POSTS_RESULT

logger = logging.getLogger(__name__)


class ResultSink(Protocol):
    async def send(self, result: PublishResult) -> None:
        """Send ``result``; for a final result, return only once the broker has it."""
        ...


class KafkaResults:
    """Results to ``posts.result.v1`` through the app's broker (trace context included)."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def send(self, result: PublishResult) -> None:
        final = result.type != "progress"
        sent = await self._broker.publish(
            encode(result),
            topic=POSTS_RESULT,
            key=str(result.post_id).encode(),
            headers={"content-type": "application/json"},
            no_confirm=not final,
        )
        if isinstance(sent, asyncio.Future) and not final:
            sent.add_done_callback(_log_failure)


def _log_failure(future: asyncio.Future[object]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("a progress result was not delivered: %s", type(future.exception()).__name__)
