"""The runtime against a real broker: the app's lifespan, a producer like the queue's,
and a watcher of ``posts.result.v1`` like the queue's."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from fastapi import FastAPI

from cachalot_common import topic_plan
from cachalot_common.events import PublishPost, PublishResult
from cachalot_common.topics import POSTS_RESULT, publish_topic
from cachalot_publishing.app import PublisherParts, build_publisher_app
from cachalot_publishing.ports import Platform
from cachalot_publishing.runtime import PublishRuntime

from .fakes import FakeLeases, FakePlatform, settings_for

TOPIC = publish_topic("tiktok")
PARTITIONS = 2


async def ensure_topics(bootstrap: str) -> None:
    """The harness's own layout: :data:`TOPIC` with :data:`PARTITIONS`, results with 1."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for name, count in ((TOPIC, PARTITIONS), (POSTS_RESULT, 1)):
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([NewTopic(name, count, 1)])
    finally:
        await admin.close()


@dataclass
class Queue:
    """Sends commands and collects results, as the queue would.

    ``grouped`` (the default): the results are read in a consumer group of the watcher's
    own, which follows the broker through a restart. ``grouped=False``: without a group
    (no join to wait for: Tansu holds each join for about five seconds), for tests whose
    broker stays up; each partition's end is read before :meth:`start` returns.

    ``planned``: make the topics as the services' plan has them
    (:func:`cachalot_common.topic_plan.ensure_topics`), for a publisher that ensures
    topics itself (``kafka_ensure_topics``): on the harness's own layout (fewer
    partitions than planned, which Tansu cannot raise) its broker watch would start
    with the plan not held and stop its consumers at the first probe.
    """

    bootstrap: str
    grouped: bool = True
    planned: bool = False
    results: list[PublishResult] = field(default_factory=list)
    received_at: dict[uuid.UUID, float] = field(default_factory=dict)
    _producer: AIOKafkaProducer | None = None
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.planned:
            await topic_plan.ensure_topics(self.bootstrap)
        else:
            await ensure_topics(self.bootstrap)
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=False
        )
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            POSTS_RESULT,
            bootstrap_servers=self.bootstrap,
            group_id=f"watch-{uuid.uuid4().hex[:8]}" if self.grouped else None,
            auto_offset_reset="latest",
        )
        await self._consumer.start()
        deadline = time.monotonic() + 30
        while not self._consumer.assignment():
            assert time.monotonic() < deadline, "the result watcher got no partition"
            await asyncio.sleep(0.05)
        if not self.grouped:
            for partition in self._consumer.assignment():  # each end read now, not later
                await self._consumer.position(partition)
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        assert self._consumer is not None
        async for message in self._consumer:
            result = PublishResult.model_validate_json(message.value)
            self.results.append(result)
            if result.type != "progress":
                self.received_at.setdefault(result.target_id, time.monotonic())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._consumer is not None:
            await self._consumer.stop()
        if self._producer is not None:
            await self._producer.stop()

    async def send(self, command: PublishPost, *, partition: int | None = None) -> int:
        """Send a command (key = account id); its offset."""
        assert self._producer is not None
        sent = await self._producer.send_and_wait(
            TOPIC,
            command.model_dump_json().encode(),
            key=str(command.account_id).encode(),
            partition=partition,
        )
        return int(sent.offset)

    def finals(self, target_id: uuid.UUID) -> list[PublishResult]:
        return [r for r in self.results if r.target_id == target_id and r.type != "progress"]

    async def final(self, target_id: uuid.UUID, timeout: float = 30) -> PublishResult:
        deadline = time.monotonic() + timeout
        while not self.finals(target_id):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no final result for {target_id}")
            await asyncio.sleep(0.02)
        return self.finals(target_id)[0]


@dataclass
class Publisher:
    app: FastAPI
    platform: Any  # the test's fake

    @property
    def runtime(self) -> PublishRuntime:
        runtime: PublishRuntime = self.app.state.runtime
        return runtime

    async def committed(self, partition: int) -> int | None:
        """What the group has committed for ``partition`` (asked of the broker)."""
        consumer = self.app.state.broker.subscribers[0].consumer
        offset = await consumer.committed(TopicPartition(TOPIC, partition))
        return int(offset) if offset is not None else None


@contextlib.asynccontextmanager
async def publisher(
    media_dir: Path, bootstrap: str, platform: Platform | None = None, **overrides: Any
) -> AsyncIterator[Publisher]:
    """A publisher app running (lifespan entered) against the real broker, assigned."""
    chosen: Platform = platform or FakePlatform()

    @contextlib.asynccontextmanager
    async def make_publisher(_: PublisherParts) -> AsyncIterator[Platform]:
        yield chosen

    app = build_publisher_app(
        settings_for(media_dir, bootstrap, **overrides),
        platform="tiktok",
        make_publisher=make_publisher,
        leases=FakeLeases(),
    )
    async with app.router.lifespan_context(app):
        consumer = app.state.broker.subscribers[0].consumer
        deadline = time.monotonic() + 60
        while not consumer.assignment():
            assert time.monotonic() < deadline, "the publisher got no partition"
            await asyncio.sleep(0.05)
        yield Publisher(app, chosen)
