"""The reconciler re-checks silent targets, then gives up with a reason (test-driven clock)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from queue_support import GRANTS
from sqlalchemy import select

from cachalot_common.db import run_migrations_async, transaction
from cachalot_common.wakeup import Wakeup
from cachalot_queue.dispatch import Reconciler
from cachalot_queue.main import ALEMBIC_DIR, build_engine
from cachalot_queue.outbox import session_factory
from cachalot_queue.tables import Account, Media, OutboxMessage, Post, Target

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


async def test_a_silent_target_is_checked_a_few_times_then_fails_with_a_reason(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
    await run_migrations_async(ALEMBIC_DIR, url)
    engine = build_engine(url)
    factory = session_factory(engine)
    client_id, target_id = uuid.uuid4(), uuid.uuid4()
    try:
        async with transaction(factory) as session:
            account = Account(
                id=uuid.uuid4(),
                client_id=client_id,
                platform="tiktok",
                status="connected",
                changed_at=START,
            )
            media = Media(
                id=uuid.uuid4(),
                client_id=client_id,
                path="v.mp4",
                size=3,
                sha256="a" * 64,
                content_type="video/mp4",
                created_at=START,
            )
            post = Post(
                id=uuid.uuid4(),
                client_id=client_id,
                media_id=media.id,
                scheduled_at=START,
                created_at=START,
            )
            session.add_all([account, media, post])
            await session.flush()
            session.add(
                Target(
                    id=target_id, post_id=post.id, position=0, client_id=client_id,
                    account_id=account.id, platform="tiktok",
                    options={"platform": "tiktok", "caption": "c"}, status="publishing",
                    attempt=2, budget_start=0, reconciles=0, last_activity_at=START,
                    updated_at=START,
                )
            )  # fmt: skip
        clock = Clock()
        reconciler = Reconciler(
            factory, clock=clock, relay_wake=Wakeup(), claim_with_lock=False,
            silent_after_s=60, max_reconciles=2, grants=GRANTS,
        )  # fmt: skip
        clock.now = START + timedelta(seconds=59)
        assert await reconciler.reconcile_once() == 0, "not silent long enough yet"
        for _ in range(3):
            clock.now += timedelta(seconds=61)
            assert await reconciler.reconcile_once() == 1
        async with factory() as session:
            rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
            target = await session.get(Target, target_id)
        commands = [json.loads(r.payload) for r in rows if r.topic == "posts.publish.tiktok.v1"]
        assert [(c["attempt"], c["reconcile"]) for c in commands] == [(2, True), (2, True)]
        assert target is not None
        assert target.status == "failed"
        assert target.last_code == "no_answer"
        assert "did not report back" in (target.last_error or "")
        topics = [r.topic for r in rows]
        assert "notify.v1" in topics
        assert "posts.status.v1" in topics
    finally:
        await engine.dispose()
