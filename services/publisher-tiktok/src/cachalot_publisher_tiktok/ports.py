"""What the publishing logic needs from outside, as protocols (fakes slot in here)."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from faststream.kafka import KafkaBroker

from cachalot_common.events import PublishResult
from cachalot_common.kafka import publish_event
from cachalot_common.leases import Lease
from cachalot_common.topics import POSTS_RESULT


class LeaseSource(Protocol):
    """:class:`cachalot_common.leases.LeaseClient` or a test's stand-in."""

    async def lease(
        self,
        account_id: UUID,
        *,
        post_id: UUID,
        target_id: UUID | None = None,
        force_refresh: bool = False,
    ) -> Lease: ...


class ResultSink(Protocol):
    async def send(self, result: PublishResult) -> None: ...


class KafkaResults:
    """Results go to ``posts.result.v1`` keyed by post id."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def send(self, result: PublishResult) -> None:
        await publish_event(self._broker, POSTS_RESULT, result, key=str(result.post_id))
