"""What the publishing logic needs from outside, as protocols (fakes slot in here)."""

from __future__ import annotations

from typing import Protocol

from faststream.kafka import KafkaBroker

from cachalot_common.events import PublishResult
from cachalot_common.kafka import publish_event
from cachalot_common.leases import LeaseSource
from cachalot_common.topics import POSTS_RESULT

__all__ = ["KafkaResults", "LeaseSource", "ResultSink"]


class ResultSink(Protocol):
    async def send(self, result: PublishResult) -> None: ...


class KafkaResults:
    """Results go to ``posts.result.v1`` keyed by post id."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def send(self, result: PublishResult) -> None:
        await publish_event(self._broker, POSTS_RESULT, result, key=str(result.post_id))
