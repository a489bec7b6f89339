"""A publisher whose broker comes back empty takes commands again and commits them.

Tansu keeps nothing: after a restart the group, its offsets and the topic are
gone. The consumer kit's broker watch (``cachalot_common.consuming``) makes
the publisher's subscriber join afresh; the runtime's ordered commits start
over on the new topic (offsets from the old one are never committed into it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import TopicPartition

from cachalot_common import topic_plan
from cachalot_testing.broker import TansuBroker

from .fakes import FakePlatform, StoredVideo, make_command, store_video
from .kafka_harness import TOPIC, Publisher, Queue, publisher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@dataclass
class _Setting:
    tansu: TansuBroker
    video: StoredVideo
    running: Publisher
    queue: Queue | None = None

    async def new_queue(self) -> Queue:
        """A queue producer on the (restarted) broker, in place of the one before."""
        self.queue = Queue(self.tansu.bootstrap, planned=True)
        await self.queue.start()
        return self.queue

    async def restarted(self) -> None:
        """Wait until the broker watch made the subscriber join the new broker's group."""
        watch = self.running.app.state.watch
        deadline = asyncio.get_running_loop().time() + 30
        while watch.restarts < 1:
            assert asyncio.get_running_loop().time() < deadline, "no restart"
            await asyncio.sleep(0.1)

    async def committed_on_new_topic(self) -> None:
        """Wait until some partition of the new topic has a committed offset."""
        consumer = self.running.app.state.broker.subscribers[0].consumer

        async def committed() -> bool:
            for partition in consumer.assignment():
                if await consumer.committed(partition):
                    return True
            return False

        deadline = asyncio.get_running_loop().time() + 30
        while not await committed():
            assert asyncio.get_running_loop().time() < deadline, (
                f"no commit on {TOPIC} after the restart: {list(self.running.runtime.commits)}"
            )
            await asyncio.sleep(0.2)


@asynccontextmanager
async def _one_published(
    tmp_path: Path, *, partition: int | None = None
) -> AsyncIterator[_Setting]:
    """Tansu, a publisher on it and one command published through it (the queue producer
    stopped after it), for a test to restart the broker under."""
    tansu = TansuBroker(log_path=tmp_path / "tansu.log").start()
    video = store_video(tmp_path)
    try:
        queue = Queue(tansu.bootstrap, planned=True)
        await queue.start()
        async with publisher(
            tmp_path, tansu.bootstrap, FakePlatform(), kafka_ensure_topics=True
        ) as running:
            before = make_command(video)
            await queue.send(before, partition=partition)
            await queue.final(before.target_id)
            await queue.stop()
            setting = _Setting(tansu, video, running)
            yield setting
        if setting.queue is not None:
            await setting.queue.stop()
    finally:
        tansu.stop()


async def _publish_after_restart(
    setting: _Setting, count: int, *, partition: int | None = None
) -> int:
    """Send ``count`` commands once the producer reaches the new broker, and wait for
    each one's final result; returns ``count``."""
    queue = await setting.new_queue()
    commands = [make_command(setting.video) for _ in range(count)]
    for command in commands:
        await _send_until_taken(queue, command, partition=partition)
    for command in commands:
        await queue.final(command.target_id, timeout=60)
    return count


async def test_after_the_broker_restarts_empty_commands_are_published_and_committed_again(
    tmp_path: Path,
) -> None:
    async with _one_published(tmp_path) as setting:
        setting.tansu.kill()
        await asyncio.sleep(1.0)
        setting.tansu.start()  # same port, empty
        await setting.restarted()  # the subscriber joined the new broker's group afresh
        await _publish_after_restart(setting, 8)
        await setting.committed_on_new_topic()


async def _send_until_taken(queue: Queue, command: object, *, partition: int | None = None) -> None:
    for _ in range(100):
        try:
            await queue.send(command, partition=partition)  # type: ignore[arg-type]
            return
        except Exception:
            await asyncio.sleep(0.2)
    raise AssertionError("the producer never reconnected")


async def test_a_commit_under_way_when_the_broker_dies_does_not_stop_later_commits(
    tmp_path: Path,
) -> None:
    """The runtime's commit loop was inside ``consumer.commit`` when Tansu died.

    aiokafka retries a commit whose group coordinator is unknown without end,
    even after its consumer was closed (``GroupCoordinatorNotAvailableError`` is
    retriable and a closed coordinator never looks one up again): the broker
    watch restarts the subscriber, and the loop waits forever on the old one, so
    nothing is committed again (issue 11, e2e ``publisher-tiktok commits on
    posts.publish.tiktok.v1 again`` not within 30 s, about 1 run in 16).
    """
    async with _one_published(tmp_path) as setting:
        setting.tansu.kill()
        # A command that finished just before the kill: its offset is
        # committable, so the next round of the loop commits into the dead broker.
        consumer = setting.running.app.state.broker.subscribers[0].consumer
        partition = sorted(consumer.assignment())[0]
        setting.running.runtime.skip(partition, 1_000)
        await asyncio.sleep(1.5)  # the round is under way, retrying
        setting.tansu.start()  # same port, empty
        await setting.restarted()
        await _publish_after_restart(setting, 4)
        await setting.committed_on_new_topic()


async def test_offsets_of_the_log_before_a_quick_restart_are_never_committed_into_the_new_one(
    tmp_path: Path,
) -> None:
    """The broker restarted empty quicker than the broker watch could look: the
    subscriber's consumer finds its group gone and joins again by itself.

    aiokafka forgets its membership (generation -1) and calls the revoke
    listener, whose commit of what finished went out as a commit of no member,
    which a broker accepts for any group: the old log's next offset (1001 here)
    became the new group's position, and every command below it in the new log
    was never read (the landing failure of s10: after a restart only one of
    four commands was taken, the others' partitions committed from the old log).
    """
    async with _one_published(tmp_path, partition=0) as setting:
        # finished in the old log and not committed yet when the broker restarts
        setting.running.runtime.skip(TopicPartition(TOPIC, 0), 1_000)

        async def planned(bootstrap: str) -> None:
            await topic_plan.ensure_topics(bootstrap)

        setting.tansu.restart_unseen(planned)
        sent = await _publish_after_restart(setting, 3, partition=0)
        # the new log's position, never the old log's 1001
        assert (await setting.running.committed(0) or 0) <= sent
