"""A broker that restarts empty (Tansu keeps nothing) loses no work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from queue_support import QueueServer, Recorder, eventually, start_queue

from cachalot_testing.broker import TansuBroker

pytestmark = pytest.mark.integration


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[TansuBroker]:
    broker = TansuBroker(log_path=tmp_path / "tansu.log").start()
    yield broker
    broker.stop()


async def test_work_in_flight_when_the_broker_restarts_empty_is_dispatched_again(
    own_broker: TansuBroker, tmp_path: Path
) -> None:
    recorder = Recorder(own_broker.bootstrap, offset_reset="earliest")
    await recorder.start()
    queue: QueueServer = await start_queue(
        f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}",
        own_broker.bootstrap,
        False,
        tmp_path / "media",
        reconcile_after_s=1.5,
    )
    try:
        client = queue.client()
        account = await client.account("youtube")
        post = await client.queue(youtube=account)
        target = post["targets"][0]["id"]
        await eventually(lambda: recorder.commands(target), timeout=15)

        own_broker.restart()  # the command, and everything else, is gone

        checked = await eventually(lambda: recorder.commands(target, reconcile=True), timeout=60)
        assert checked[0].value["attempt"] == 1
        after = await client.queue(youtube=account)
        await eventually(lambda: recorder.commands(after["targets"][0]["id"]), timeout=30)
        await queue.result(post, type="published", remote_id="v", remote_url="https://youtu.be/v")

        async def published() -> bool:
            return (await queue.target(target)).status == "published"

        await eventually(published, timeout=30)
    finally:
        await queue.stop()
        await queue.kafka.stop()
        await recorder.stop()
