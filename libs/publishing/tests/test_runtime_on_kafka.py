"""The runtime on a real Kafka-protocol broker (Tansu): order, isolation, long waits, offsets."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cachalot_common.events import PublishPost
from cachalot_publishing.outcome import Published
from cachalot_publishing.ports import Context

from .fakes import FakePlatform, StoredVideo, eventually, make_command, store_video
from .kafka_harness import Publisher, Queue, publisher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

MAX_POLL_INTERVAL_S = 4.0
"""The module's publisher's max.poll.interval (``kafka_max_poll_interval_ms``): a consumer
that does not poll this long leaves its group. Short, so that a publish three times as long
as it (the slow-publish test) takes seconds, not the 30 s the fixtures' 10 s would need."""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoredVideo]:
    directory = tmp_path_factory.mktemp("media")
    return directory, store_video(directory)


@pytest.fixture(scope="module")
async def running(media, kafka_bootstrap) -> AsyncIterator[Publisher]:
    directory, _ = media
    queue = Queue(kafka_bootstrap, grouped=False)
    await queue.start()  # creates the topics before the publisher joins
    await queue.stop()
    async with publisher(
        directory,
        kafka_bootstrap,
        FakePlatform(),
        kafka_max_poll_interval_ms=int(MAX_POLL_INTERVAL_S * 1000),
    ) as running:
        yield running


@pytest.fixture
async def queue(kafka_bootstrap) -> AsyncIterator[Queue]:
    watcher = Queue(kafka_bootstrap, grouped=False)
    await watcher.start()
    yield watcher
    await watcher.stop()


async def test_twenty_commands_of_one_account_complete_in_their_order(
    running, queue, media
) -> None:
    _, video = media

    async def jittery(command: PublishPost, ctx: Context) -> Published:
        await asyncio.sleep(random.uniform(0, 0.05))
        return Published(str(command.target_id))

    account = uuid.uuid4()
    commands = [make_command(video, account_id=account) for _ in range(20)]
    for command in commands:
        running.platform.scripts[command.target_id] = jittery
        await queue.send(command)
    for command in commands:
        await queue.final(command.target_id)
    finished = [t for t in running.platform.finished if t in {c.target_id for c in commands}]
    assert finished == [c.target_id for c in commands]
    arrived = sorted(commands, key=lambda c: queue.received_at[c.target_id])
    assert arrived == commands


async def test_a_publish_longer_than_max_poll_interval_neither_delays_another_nor_loses_the_group(
    running, queue, media
) -> None:
    _, video = media

    async def three_poll_intervals(command: PublishPost, ctx: Context) -> Published:
        await asyncio.sleep(3 * MAX_POLL_INTERVAL_S)  # longer than max.poll.interval on purpose
        return Published("slow")

    slow, quick = make_command(video), make_command(video)
    running.platform.scripts[slow.target_id] = three_poll_intervals
    await queue.send(slow)
    await eventually(lambda: slow.target_id in running.platform.started)
    sent = time.monotonic()
    await queue.send(quick)
    await queue.final(quick.target_id)
    assert queue.received_at[quick.target_id] - sent < 1.0
    assert (await queue.final(slow.target_id, timeout=60)).type == "published"
    await asyncio.sleep(2)
    assert running.platform.started.count(slow.target_id) == 1, "redelivered: the group was lost"


async def test_a_retry_after_of_330_seconds_goes_back_to_the_queue_in_full_without_redelivery(
    running, queue, media
) -> None:
    _, video = media

    async def rate_limited(command: PublishPost, ctx: Context) -> Published:
        await ctx.sleep(330, code="rate_limited", reason="TikTok's rate limit was reached.")
        raise AssertionError("not slept")

    command = make_command(video)
    running.platform.scripts[command.target_id] = rate_limited
    await queue.send(command)
    result = await queue.final(command.target_id)
    assert (result.type, result.code) == ("retryable", "rate_limited")
    assert 330 <= (result.retry_after_s or 0) < 331  # in full, ending on a whole second
    await asyncio.sleep(1)
    assert running.platform.started.count(command.target_id) == 1
    assert len(queue.finals(command.target_id)) == 1


async def test_the_committed_offset_never_passes_an_unfinished_command(
    running: Publisher, queue: Queue, media: tuple[Path, StoredVideo]
) -> None:
    _, video = media
    gate = asyncio.Event()

    async def held(command: PublishPost, ctx: Context) -> Published:
        await gate.wait()
        return Published("held")

    first, second, third = (make_command(video) for _ in range(3))
    running.platform.scripts[first.target_id] = held
    offsets = [await queue.send(c, partition=0) for c in (first, second, third)]
    await queue.final(second.target_id)
    await queue.final(third.target_id)
    await asyncio.sleep(0.5)  # several commit rounds
    committed = await running.committed(0)
    assert committed is None or committed <= offsets[0]
    gate.set()
    await queue.final(first.target_id)

    async def caught_up() -> bool:
        return await running.committed(0) == offsets[2] + 1

    deadline = time.monotonic() + 10
    while not await caught_up():
        assert time.monotonic() < deadline, "the offset never moved past the finished commands"
        await asyncio.sleep(0.1)
