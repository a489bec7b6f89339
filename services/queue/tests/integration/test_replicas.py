"""Several replicas on one PostgreSQL never dispatch or relay the same thing twice."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from typing import Any

import pytest
from queue_support import GRANTS
from sqlalchemy import select

from cachalot_common.db import run_migrations_async, transaction
from cachalot_common.events import utcnow
from cachalot_common.outbox import OutboxRelay
from cachalot_common.wakeup import Wakeup
from cachalot_queue.dispatch import Scheduler
from cachalot_queue.main import ALEMBIC_DIR, build_engine
from cachalot_queue.outbox import build_relay, session_factory
from cachalot_queue.tables import Account, Media, OutboxMessage, Post, Target

pytestmark = pytest.mark.integration
TARGETS = 300


class RecordingBroker:
    """Stands in for Kafka: records what each relay published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, topic: str, key: str, message: bytes) -> None:
        await asyncio.sleep(0)
        self.published.append((topic, message))


async def seed(factory: Any) -> None:
    now = utcnow()
    client_id = uuid.uuid4()
    async with transaction(factory) as session:
        account = Account(
            id=uuid.uuid4(),
            client_id=client_id,
            platform="youtube",
            status="connected",
            changed_at=now,
        )
        media = Media(
            id=uuid.uuid4(),
            client_id=client_id,
            path="m.mp4",
            size=10,
            sha256="0" * 64,
            content_type="video/mp4",
            created_at=now,
        )
        session.add_all([account, media])
        await session.flush()
        for _ in range(TARGETS):
            post = Post(
                id=uuid.uuid4(),
                client_id=client_id,
                media_id=media.id,
                scheduled_at=now,
                created_at=now,
            )
            session.add(post)
            session.add(
                Target(
                    id=uuid.uuid4(),
                    post_id=post.id,
                    position=0,
                    client_id=client_id,
                    account_id=account.id,
                    platform="youtube",
                    options={"platform": "youtube", "title": "t"},
                    status="scheduled",
                    attempt=0,
                    budget_start=0,
                    reconciles=0,
                    due_at=now,
                    updated_at=now,
                )
            )


async def test_two_schedulers_and_two_relays_share_the_work_without_overlap(
    postgres_database: str,
) -> None:
    await run_migrations_async(ALEMBIC_DIR, postgres_database)
    engines = [build_engine(postgres_database) for _ in range(2)]
    factories = [session_factory(engine) for engine in engines]
    try:
        await seed(factories[0])
        schedulers = [
            Scheduler(
                f,
                clock=utcnow,
                wake=Wakeup(),
                relay_wake=Wakeup(),
                claim_with_lock=True,
                grants=GRANTS,
                batch=25,
            )
            for f in factories
        ]

        async def drain_scheduler(scheduler: Scheduler) -> int:
            total = 0
            while n := await scheduler.dispatch_due():
                total += n
            return total

        shares = await asyncio.gather(*(drain_scheduler(s) for s in schedulers))
        assert sum(shares) == TARGETS
        assert all(shares), f"both replicas took part: {shares}"

        brokers = [RecordingBroker(), RecordingBroker()]
        relays = [
            build_relay(f, b.publish, wake=Wakeup(), claim_with_lock=True, batch=40)
            for f, b in zip(factories, brokers, strict=True)
        ]

        async def drain_relay(relay: OutboxRelay) -> None:
            while await relay.relay_once():
                pass

        await asyncio.gather(*(drain_relay(r) for r in relays))
        commands = Counter(
            json.loads(message)["target_id"]
            for broker in brokers
            for topic, message in broker.published
            if topic == "posts.publish.youtube.v1"
        )
        assert len(commands) == TARGETS
        assert set(commands.values()) == {1}
        async with factories[0]() as session:
            unsent = await session.scalars(
                select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
            )
            assert unsent.all() == []
            attempts = await session.scalars(select(Target.attempt))
            assert set(attempts.all()) == {1}
    finally:
        for engine in engines:
            await engine.dispose()
