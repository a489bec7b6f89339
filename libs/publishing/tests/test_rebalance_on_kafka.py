"""A second replica joins while commands are in flight: each command ends exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cachalot_common.events import PublishPost
from cachalot_publishing.outcome import Published
from cachalot_publishing.ports import Context

from .fakes import eventually, make_command, store_video
from .kafka_harness import PARTITIONS, Queue, publisher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@dataclass
class FirstSightingHangs:
    """A platform shared by both replicas: the first run of a held target hangs (until its
    partition is revoked); any later run publishes. ``runs`` counts runs per target."""

    name: str = "tiktok"
    label: str = "TikTok"
    held: set[uuid.UUID] = field(default_factory=set)
    runs: Counter[uuid.UUID] = field(default_factory=Counter)

    async def publish(self, command: PublishPost, ctx: Context) -> Published:
        self.runs[command.target_id] += 1
        if command.target_id in self.held and self.runs[command.target_id] == 1:
            await asyncio.Event().wait()
        return Published(f"remote-{command.target_id}")


async def test_commands_in_flight_when_a_replica_joins_are_handed_over_and_end_once(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    video = store_video(tmp_path)
    platform = FirstSightingHangs()
    queue = Queue(kafka_bootstrap, grouped=False)
    await queue.start()
    try:
        commands = [make_command(video) for _ in range(4 * PARTITIONS)]
        platform.held = {c.target_id for c in commands}
        async with publisher(tmp_path, kafka_bootstrap, platform) as first:
            for index, command in enumerate(commands):
                await queue.send(command, partition=index % PARTITIONS)
            await eventually(lambda: all(platform.runs[c.target_id] for c in commands))
            async with publisher(tmp_path, kafka_bootstrap, platform):
                for command in commands:
                    assert (await queue.final(command.target_id, timeout=60)).type == "published"
                await asyncio.sleep(1)
            consumer = first.app.state.broker.subscribers[0].consumer
            # leave only once the group is settled again (not in the middle of a rebalance)
            await eventually(lambda: len(consumer.assignment()) == PARTITIONS, timeout=60)
        for command in commands:
            assert len(queue.finals(command.target_id)) == 1, "one final result per command"
            assert platform.runs[command.target_id] == 2, "cancelled once, then run once"
    finally:
        await queue.stop()
