"""The reconciler asks the platform (through the publisher) before it fails anything.

A target silent past the timeout gets a status check (``reconcile=True``: the
publisher asks the platform what became of it, never uploads blindly); only
after ``max_reconciles`` checks that left for the publisher went unanswered
is it failed as ``no_answer``. A check still waiting in the outbox (the broker
is away) is no check; an answer to a check is applied. Test-driven clock, on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from queue_support import GRANTS
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import is_sqlite, run_migrations_async, transaction
from cachalot_common.events import PublishResult, utcnow
from cachalot_common.wakeup import Wakeup
from cachalot_queue.dispatch import Reconciler
from cachalot_queue.main import ALEMBIC_DIR, build_engine
from cachalot_queue.outbox import session_factory
from cachalot_queue.results import EventHandlers
from cachalot_queue.states import RetryPolicy
from cachalot_queue.tables import Account, Media, OutboxMessage, Post, Target

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
COMMANDS = "posts.publish.tiktok.v1"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    factory: async_sessionmaker[AsyncSession]
    clock: Clock
    reconciler: Reconciler
    target_id: uuid.UUID
    post_id: uuid.UUID
    account_id: uuid.UUID
    lock: bool

    async def target(self) -> Target:
        async with self.factory() as session:
            target = await session.get(Target, self.target_id)
        assert target is not None
        return target

    async def checks(self) -> list[dict[str, object]]:
        async with self.factory() as session:
            rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        return [json.loads(r.payload) for r in rows if r.topic == COMMANDS]

    async def relay_sent_everything(self) -> None:
        """What the outbox relay does once the broker took the rows."""
        async with transaction(self.factory) as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
                .values(sent_at=utcnow())
            )

    async def silent_round(self) -> int:
        self.clock.now += timedelta(seconds=61)
        return await self.reconciler.reconcile_once()


@pytest.fixture(params=["sqlite", "postgres"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
    await run_migrations_async(ALEMBIC_DIR, url)
    engine = build_engine(url)
    factory = session_factory(engine)
    client_id, target_id = uuid.uuid4(), uuid.uuid4()
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
                options={"platform": "tiktok", "caption": "c", "privacy_level": "SELF_ONLY"},
                status="publishing",
                attempt=2, budget_start=0, reconciles=0, last_activity_at=START,
                updated_at=START,
            )
        )  # fmt: skip
    clock = Clock()
    lock = not is_sqlite(url)
    reconciler = Reconciler(
        factory, clock=clock, relay_wake=Wakeup(), claim_with_lock=lock,
        silent_after_s=60, max_reconciles=2, grants=GRANTS,
    )  # fmt: skip
    try:
        yield World(factory, clock, reconciler, target_id, post.id, account.id, lock)
    finally:
        await engine.dispose()


async def test_a_silent_target_is_checked_a_few_times_then_fails_with_a_reason(
    world: World,
) -> None:
    world.clock.now = START + timedelta(seconds=59)
    assert await world.reconciler.reconcile_once() == 0, "not silent long enough yet"
    for _ in range(3):
        assert await world.silent_round() == 1
        await world.relay_sent_everything()
    commands = await world.checks()
    assert [(c["attempt"], c["reconcile"]) for c in commands] == [(2, True), (2, True)]
    target = await world.target()
    assert target.status == "failed"
    assert target.last_code == "no_answer"
    assert "did not report back" in (target.last_error or "")
    async with world.factory() as session:
        topics = list(await session.scalars(select(OutboxMessage.topic)))
    # announced once, on posts.status.v1 (the notifier tells the operator from it)
    assert "notify.v1" not in topics
    assert "posts.status.v1" in topics


async def test_a_check_that_never_left_the_outbox_is_neither_counted_nor_taken_for_silence(
    world: World,
) -> None:
    assert await world.silent_round() == 1  # the first check is written...
    for _ in range(5):  # ...but the broker is away: the relay cannot send it
        await world.silent_round()
    target = await world.target()
    assert target.status == "publishing", "nothing was asked, so nothing may be concluded"
    assert target.reconciles == 1
    assert len(await world.checks()) == 1, "no pile of checks behind the first"

    await world.relay_sent_everything()  # the broker is back
    assert await world.silent_round() == 1
    assert [c["reconcile"] for c in await world.checks()] == [True, True]
    assert (await world.target()).status == "publishing"


async def test_a_check_answered_published_makes_the_target_published_never_no_answer(
    world: World, tmp_path: Path
) -> None:
    handlers = EventHandlers(
        world.factory,
        policy=RetryPolicy(max_attempts=3, base_s=5, max_s=60),
        clock=world.clock,
        rng=random.Random(1),
        relay_wake=Wakeup(),
        scheduler_wake=Wakeup(),
        lock_rows=world.lock,
        media_dir=tmp_path,
    )
    for _ in range(2):  # both checks leave; the answer to the last one arrives late
        assert await world.silent_round() == 1
        await world.relay_sent_everything()
    await handlers.on_results(
        [
            PublishResult(
                type="published",
                post_id=world.post_id,
                target_id=world.target_id,
                account_id=world.account_id,
                platform="tiktok",
                attempt=2,
                remote_id="7300000000000000001",
                remote_url="https://www.tiktok.com/@ann/video/7300000000000000001",
            )
        ]
    )
    for _ in range(3):
        await world.silent_round()
    target = await world.target()
    assert target.status == "published"
    assert target.last_code != "no_answer"


async def test_silence_while_the_queue_cannot_hear_answers_neither_checks_nor_fails(
    world: World,
) -> None:
    listening = [0.0]  # the broker watch: seconds the broker and consumers have worked
    world.reconciler = Reconciler(
        world.factory, clock=world.clock, relay_wake=Wakeup(), claim_with_lock=world.lock,
        silent_after_s=60, max_reconciles=2, grants=GRANTS,
        listening_for_s=lambda: listening[0],
    )  # fmt: skip
    for _ in range(5):  # the broker is gone, or back but the consumers are rejoining
        assert await world.silent_round() == 0
        await world.relay_sent_everything()
    listening[0] = 30.0  # back, but not yet for a whole silence
    assert await world.silent_round() == 0
    assert (await world.target()).status == "publishing"
    assert await world.checks() == []

    listening[0] = 61.0  # listening for longer than the timeout: silence means something
    assert await world.silent_round() == 1
    assert [c["reconcile"] for c in await world.checks()] == [True]


async def test_commands_a_broker_lost_are_checked_at_once_after_it_came_back_not_after_the_timeout(
    world: World,
) -> None:
    await world.relay_sent_everything()
    world.clock.now = START + timedelta(seconds=5)  # far from silent (timeout: 60 s)
    await world.reconciler.step()
    assert await world.checks() == [], "no loss, no silence: nothing to ask"

    world.reconciler.commands_lost()  # the broker watch: back, empty, consumers rejoined
    await world.reconciler.step()
    checks = await world.checks()
    assert [(c["attempt"], c["reconcile"]) for c in checks] == [(2, True)]
    target = await world.target()
    assert target.status == "publishing"
    assert target.reconciles == 0, "a lost command is no silence of the publisher's"

    world.clock.now += timedelta(seconds=1)
    world.reconciler.commands_lost()  # a second loss while that check waits in the outbox
    await world.reconciler.step()
    assert len(await world.checks()) == 1, "the waiting check goes to the new broker as it is"

    await world.relay_sent_everything()
    world.clock.now += timedelta(seconds=1)
    await world.reconciler.step()
    assert len(await world.checks()) == 1, "asked once per loss, not on every round"
    world.reconciler.commands_lost()
    world.clock.now += timedelta(seconds=1)
    await world.reconciler.step()
    assert len(await world.checks()) == 2, "a check the new broker lost too is sent again"

    await world.relay_sent_everything()
    world.clock.now += timedelta(seconds=29)
    await world.reconciler.step()
    assert len(await world.checks()) == 2
    world.clock.now += timedelta(seconds=2)  # still silent 30 s after that check: once more
    await world.reconciler.step()
    assert len(await world.checks()) == 3
    await world.relay_sent_everything()
    world.clock.now += timedelta(seconds=20)
    await world.reconciler.step()
    assert len(await world.checks()) == 3, "once, then the ordinary timeout rules"
    assert (await world.target()).reconciles == 0


async def test_a_silent_target_on_a_platform_that_cannot_look_posts_up_ends_unconfirmed(
    world: World,
) -> None:
    """Issue 10: Telegram cannot say whether the silent publisher posted before it went quiet,
    so the client is asked to check (``unconfirmed``), nothing is failed."""
    async with transaction(world.factory) as session:
        await session.execute(
            update(Target)
            .where(Target.id == world.target_id)
            .values(platform="telegram", options={"platform": "telegram", "caption": "c"})
        )
        await session.execute(
            update(Account).where(Account.id == world.account_id).values(platform="telegram")
        )
    for _ in range(3):
        assert await world.silent_round() == 1
        await world.relay_sent_everything()
    target = await world.target()
    assert (target.status, target.last_code) == ("unconfirmed", "outcome_unknown")
    assert "could not confirm whether the post went out" in (target.last_error or "")
    assert "fail" not in (target.last_error or "").lower()
