"""The topic plan on a real broker: missing topics created, short ones raised or named."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cachalot_common.topic_plan import TopicPlanError, ensure_topics
from cachalot_testing.broker import TansuBroker

pytestmark = pytest.mark.integration


async def partition_counts(bootstrap: str) -> dict[str, int]:
    """Every topic the broker has → its partition count (a request that creates none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return {str(t["topic"]): len(t["partitions"]) for t in await admin.describe_topics()}
    finally:
        await admin.close()


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def test_a_planned_topic_a_restarted_broker_holds_with_fewer_partitions_is_raised_or_named(
    tmp_path: Path,
) -> None:
    """Issue 11 (fresh11c): two broker restarts a few seconds apart, the second while the
    broker started, left planned topics with 1 partition instead of 4; the ensure found
    them present and left them so, and the relays, keyed to 4 partitions, looped. Here
    Tansu is killed while it starts and started again, and a client creates a planned
    topic with 1 partition before any ensure (what the restarts left); another planned
    topic is missing. The ensure creates the missing one and either raises the short one
    to its plan (a broker with CreatePartitions) or names it in its error (Tansu 0.6
    offers no CreatePartitions)."""
    tansu = TansuBroker(log_path=tmp_path / "tansu.log").start()
    short, missing = f"s{uuid.uuid4().hex[:8]}.v1", f"m{uuid.uuid4().hex[:8]}.v1"
    try:
        tansu.kill()
        tansu.start()  # empty: nothing of the first start is left
        await create_topic(tansu.bootstrap, short, 1)
        refused: TopicPlanError | None = None
        created: list[str] = []
        try:
            created = await ensure_topics(tansu.bootstrap, {short: 4, missing: 4})
        except TopicPlanError as error:
            refused = error
        counts = await partition_counts(tansu.bootstrap)
        assert counts[missing] == 4, "the missing topic is created in either case"
        if refused is None:  # a broker that adds partitions
            assert created == [missing]
            assert counts[short] == 4
        else:  # Tansu: named, with what it has and what is planned
            assert refused.short == {short: (1, 4)}
            assert f"{short} has 1 of 4" in str(refused)
    finally:
        tansu.stop()


async def test_a_topic_with_more_partitions_than_planned_is_left_as_it_is(tmp_path: Path) -> None:
    """Partitions cannot be taken away, and more only spread the work wider: no error."""
    tansu = TansuBroker(log_path=tmp_path / "tansu.log").start()
    wide = f"w{uuid.uuid4().hex[:8]}.v1"
    try:
        await create_topic(tansu.bootstrap, wide, 6)
        assert await ensure_topics(tansu.bootstrap, {wide: 4}) == []
        assert (await partition_counts(tansu.bootstrap))[wide] == 6
    finally:
        tansu.stop()
