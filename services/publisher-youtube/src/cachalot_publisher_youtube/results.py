"""Where results go: ``posts.result.v1``, keyed by post id."""

from __future__ import annotations

from typing import Protocol

from faststream.kafka import KafkaBroker

from cachalot_common.events import PublishResult
from cachalot_common.kafka import publish_event
from cachalot_common.topics import POSTS_RESULT


class ResultSink(Protocol):
    async def emit(self, result: PublishResult) -> None: ...


class KafkaResults:
    """Publishes each result and waits for the broker's acknowledgement."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def emit(self, result: PublishResult) -> None:
        await publish_event(self._broker, POSTS_RESULT, result, key=str(result.post_id))
