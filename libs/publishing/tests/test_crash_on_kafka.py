"""Commands in hand on a real broker: a stop mid-flight redelivers exactly the unfinished;
fetching pauses past the buffer limit."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from pathlib import Path

import pytest

from cachalot_common.events import PublishPost
from cachalot_publishing.outcome import Published
from cachalot_publishing.ports import Context

from .fakes import FakePlatform, StoredVideo, eventually, make_command, store_video
from .kafka_harness import Queue, publisher

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def test_stopping_mid_flight_sends_no_result_and_redelivers_exactly_the_unfinished(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    data = b"video" * 100
    (tmp_path / "v.mp4").write_bytes(data)
    video = StoredVideo("v.mp4", len(data), hashlib.sha256(data).hexdigest())
    queue = Queue(kafka_bootstrap, grouped=False)
    await queue.start()
    try:
        never = asyncio.Event()

        async def stuck(command: PublishPost, ctx: Context) -> Published:
            await never.wait()
            raise AssertionError("unreachable")

        first_run = FakePlatform()
        accounts = [uuid.uuid4() for _ in range(10)]
        done = [make_command(video, account_id=a) for a in accounts]
        in_flight = [make_command(video, account_id=a) for a in accounts]
        for command in in_flight:
            first_run.scripts[command.target_id] = stuck
        async with publisher(tmp_path, kafka_bootstrap, first_run) as running:
            for command in done:
                await queue.send(command)
            for command in done:
                await queue.final(command.target_id)
            await eventually(lambda: running.runtime.in_hand == 0)
            await asyncio.sleep(0.3)  # the finished ones are committed
            for command in in_flight:
                await queue.send(command)
            await eventually(lambda: len(first_run.started) == len(done) + len(in_flight))
        assert not any(queue.finals(c.target_id) for c in in_flight), "cancelled: no result"

        second_run = FakePlatform()
        async with publisher(tmp_path, kafka_bootstrap, second_run):
            for command in in_flight:
                assert (await queue.final(command.target_id)).type == "published"
            await asyncio.sleep(0.5)
        ours = {c.target_id for c in done + in_flight}
        redelivered = [t for t in second_run.started if t in ours]
        assert sorted(redelivered) == sorted(c.target_id for c in in_flight)
    finally:
        await queue.stop()


async def test_past_the_buffer_limit_fetching_pauses_and_resumes_below_half(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    video = store_video(tmp_path)
    queue = Queue(kafka_bootstrap, grouped=False)
    await queue.start()
    try:
        gate = asyncio.Event()

        async def held(command: PublishPost, ctx: Context) -> Published:
            await gate.wait()
            return Published("held")

        platform = FakePlatform()
        commands = [make_command(video) for _ in range(12)]
        for command in commands:
            platform.scripts[command.target_id] = held
        async with publisher(
            tmp_path,
            kafka_bootstrap,
            platform,
            publish_max_buffered=4,
            publish_fetch_max_records=1,  # the limit is exact to within one fetch
        ) as run:
            for command in commands:
                await queue.send(command, partition=0)
            await eventually(lambda: run.runtime.in_hand == 4)
            await asyncio.sleep(1.0)
            assert run.runtime.in_hand == 4, "fetching went on past the buffer limit"
            gate.set()
            for command in commands:
                assert (await queue.final(command.target_id)).type == "published"
    finally:
        await queue.stop()
