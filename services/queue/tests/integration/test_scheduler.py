"""The scheduler's cost follows what is due (issue 9 item 3), on SQLite and PostgreSQL.

The plans are read from the databases themselves (``EXPLAIN QUERY PLAN`` /
``EXPLAIN``) over a real backlog of future posts, analysed, so the planner's
choice is the one it makes in production; the claim's account rule is driven
with a test clock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from queue_support import GRANTS, database_for
from sqlalchemy import Executable, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from cachalot_common.db import run_migrations_async, transaction
from cachalot_common.wakeup import Wakeup
from cachalot_queue.dispatch import Scheduler, due_query, next_due_query, waiting_query
from cachalot_queue.main import ALEMBIC_DIR, build_engine
from cachalot_queue.outbox import session_factory
from cachalot_queue.tables import Account, Media, OutboxMessage, Post, Target

pytestmark = pytest.mark.integration
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BACKLOG = 20_000


class Explain(Executable, ClauseElement):
    """``EXPLAIN`` (PostgreSQL) or ``EXPLAIN QUERY PLAN`` (SQLite) of a statement and its binds."""

    inherit_cache = False

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement


@compiles(Explain)
def _explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    sql = prefix + compiler.process(element.statement, **kw)
    compiler._result_columns = []  # plan rows are text, not the statement's columns
    return sql


async def plan(factory: async_sessionmaker[AsyncSession], statement: ClauseElement) -> list[str]:
    async with factory() as session, session.begin():
        rows = (await session.execute(Explain(statement))).all()
    return [str(row[-1]) for row in rows]


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Database:
    engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    postgres: bool
    client_id: uuid.UUID
    media_id: uuid.UUID

    async def account(self, status: str = "connected", holder: uuid.UUID | None = None) -> Any:
        async with transaction(self.factory) as session:
            account = Account(
                id=uuid.uuid4(), client_id=holder or self.client_id, platform="tiktok",
                status=status, changed_at=START,
            )  # fmt: skip
            session.add(account)
        return account.id

    async def targets(
        self,
        account_id: Any,
        due: list[datetime],
        status: str = "scheduled",
        *,
        created: list[datetime] | None = None,
        scheduled: list[datetime] | None = None,
        waiting: bool = False,
        client_id: uuid.UUID | None = None,
    ) -> list[Any]:
        """One post per due time, each with one target on ``account_id``, written in this
        order (``created``: each post's creation time, default all ``START``; ``scheduled``:
        its publish time, default its due time; ``waiting``: the due time ends a platform
        wait; ``client_id``: whose, default the database's client)."""
        client = client_id or self.client_id
        publish = scheduled or due
        posts = [uuid.uuid4() for _ in due]
        ids = [uuid.uuid4() for _ in due]
        made = created or [START] * len(due)
        async with self.engine.begin() as connection:
            await connection.execute(
                Post.__table__.insert(),
                [
                    {"id": p, "client_id": client, "media_id": self.media_id,
                     "scheduled_at": at, "created_at": c}
                    for p, at, c in zip(posts, publish, made, strict=True)
                ],
            )  # fmt: skip
            await connection.execute(
                Target.__table__.insert(),
                [
                    {"id": t, "post_id": p, "position": 0, "client_id": client,
                     "account_id": account_id, "platform": "tiktok",
                     "options": {"platform": "tiktok", "caption": "c",
                                 "privacy_level": "SELF_ONLY"},
                     "status": status,
                     "attempt": 0, "budget_start": 0, "reconciles": 0,
                     "due_at": at if status == "scheduled" else None, "scheduled_at": on,
                     "created_at": c, "platform_wait": waiting, "updated_at": START}
                    for t, p, at, on, c in zip(ids, posts, due, publish, made, strict=True)
                ],
            )  # fmt: skip
        return ids

    async def analyze(self) -> None:
        async with self.engine.begin() as connection:
            await connection.exec_driver_sql("ANALYZE")

    async def status(self, target_id: Any) -> tuple[str, datetime | None]:
        async with self.factory() as session:
            target = await session.get(Target, target_id)
        assert target is not None
        return target.status, target.due_at

    def scheduler(self, clock: Clock, *, batch: int = 200) -> Scheduler:
        return Scheduler(
            self.factory, clock=clock, wake=Wakeup(), relay_wake=Wakeup(),
            claim_with_lock=self.postgres, grants=GRANTS, batch=batch, recheck_s=2.0,
            max_sleep_s=10,
        )  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    url = database_for(request, tmp_path)
    await run_migrations_async(ALEMBIC_DIR, url)
    engine = build_engine(url)
    factory = session_factory(engine)
    client_id = uuid.uuid4()
    async with transaction(factory) as session:
        media = Media(
            id=uuid.uuid4(), client_id=client_id, path="v.mp4", size=3, sha256="a" * 64,
            content_type="video/mp4", created_at=START,
        )  # fmt: skip
        session.add(media)
    try:
        yield Database(engine, factory, request.param == "postgres", client_id, media.id)
    finally:
        await engine.dispose()


def _in(count: int, *, after: timedelta, step: timedelta = timedelta(seconds=1)) -> list[datetime]:
    return [START + after + i * step for i in range(count)]


async def test_the_next_due_and_claim_queries_read_the_due_index_never_the_backlog(
    database: Database,
) -> None:
    """Before any ANALYZE (SQLite never runs one by itself) and after it.

    Statistics guide the planner: analysed, PostgreSQL walks the index in
    ``due_at`` order; before, it may take a bitmap of the (few, it guesses)
    due entries of the same index and sort them. Neither reads the backlog.
    """
    connected = await database.account()
    reauth = await database.account("reauth_required")
    await database.targets(connected, _in(BACKLOG, after=timedelta(hours=1)))
    await database.targets(reauth, _in(BACKLOG // 4, after=timedelta(minutes=1)), "paused")
    await database.targets(connected, _in(BACKLOG // 4, after=-timedelta(days=1)), "published")
    await database.targets(connected, _in(3, after=-timedelta(seconds=5)))  # due now
    await database.targets(connected, _in(3, after=timedelta(seconds=30)), waiting=True)
    queries = {
        "next due": next_due_query(),
        "claim": due_query(START, 200, lock=database.postgres),
        "waits": waiting_query([connected, reauth]),
    }
    for stage in ("without statistics", "analysed"):
        if stage == "analysed":
            await database.analyze()
        for name, query in queries.items():
            lines = await plan(database.factory, query)
            text = f"{name}, {stage}:\n" + "\n".join(lines)
            if name == "waits":  # only targets waiting now, whatever the account's backlog
                assert "ix_targets_platform_wait" in text, text
                assert "Seq Scan" not in text, text
                assert "SCAN targets" not in text, text
                continue
            if database.postgres:
                assert "Seq Scan" not in text, text
                if stage == "analysed":
                    assert "Scan using ix_targets_due on targets" in text, text
                    assert "Sort" not in text, f"read in index order: {text}"
                else:  # a guess of a few due rows: a bitmap of them, sorted, is as good
                    assert (
                        "Scan on ix_targets_due" in text or "Scan using ix_targets_due" in text
                    ), text
            else:
                on_targets = [line for line in lines if "targets" in line]
                assert on_targets, text
                assert all("INDEX ix_targets_due (status=? AND due_at" in s for s in on_targets), (
                    text
                )
                assert "TEMP B-TREE" not in text, f"read in index order: {text}"
            assert "accounts" not in text, f"accounts are checked on claimed rows only: {text}"


async def test_a_claim_dispatches_only_to_accounts_the_posts_client_holds_and_connected(
    database: Database,
) -> None:
    """Another client's account: never dispatched, looked at again later, dispatched once held.

    A reauth account of the client: paused (its reconnect resumes it). Unusable
    targets leave the due set, so more of them than one batch never block
    the others.
    """
    other_client = uuid.uuid4()
    connected = await database.account()
    reauth = await database.account("reauth_required")
    handed_on = await database.account(holder=other_client)
    blocked = await database.targets(handed_on, _in(3, after=-timedelta(seconds=10)))
    [paused] = await database.targets(reauth, _in(1, after=-timedelta(seconds=4)))
    [ready] = await database.targets(connected, _in(1, after=-timedelta(seconds=3)))
    clock = Clock()
    scheduler = database.scheduler(clock, batch=3)

    assert await scheduler.dispatch_due() == 0, "a whole batch on another client's account"
    assert await scheduler.seconds_to_next() == 0.0, "the rest are still due"
    assert await scheduler.dispatch_due() == 1
    assert await scheduler.seconds_to_next() == pytest.approx(2.0), "next: the deferred ones"
    assert await database.status(ready) == ("dispatched", None)
    assert (await database.status(paused))[0] == "paused"
    for target in blocked:
        status, due_at = await database.status(target)
        assert status == "scheduled"
        assert due_at is not None
        assert due_at >= START + timedelta(seconds=2)

    clock.now += timedelta(seconds=3)
    assert await scheduler.dispatch_due() == 0, "still another client's: never dispatched"
    async with transaction(database.factory) as session:
        account = await session.get(Account, handed_on)
        assert account is not None
        account.client_id = database.client_id
    clock.now += timedelta(seconds=3)
    assert await scheduler.dispatch_due() == 3
    async with database.factory() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    commands = [json.loads(r.payload) for r in rows if r.topic == "posts.publish.tiktok.v1"]
    assert [c["target_id"] for c in commands] == [str(ready), *map(str, blocked)], (
        "deferred targets keep their order"
    )
    assert {c["client_id"] for c in commands} == {str(database.client_id)}
    statuses = [json.loads(r.payload) for r in rows if r.topic == "posts.status.v1"]
    assert [s["status"] for s in statuses if s["target_id"] == str(paused)] == ["paused"]


async def test_posts_waiting_for_the_same_quota_window_are_claimed_oldest_first(
    database: Database,
) -> None:
    """Issue 10: when a platform's quota window frees, an account's waiting posts share one
    due time. They go out in the order they were queued, whatever order their rows were
    written in or their waits were set in (each a platform result arriving on its own)."""
    account = await database.account()
    made = [START - timedelta(minutes=10 - i) for i in range(6)]  # made[0] is the oldest
    written = [5, 2, 0, 4, 1, 3]  # the rows' write order differs from their creation order
    ids: dict[int, Any] = {}
    for index in written:
        [ids[index]] = await database.targets(
            account, [START + timedelta(hours=1)], created=[made[index]]
        )
    frees = START + timedelta(seconds=30)  # the window frees: every wait ends then
    for index in [3, 0, 5, 1, 4, 2]:  # the waits are set as each result arrives
        async with transaction(database.factory) as session:
            target = await session.get(Target, ids[index])
            assert target is not None
            target.due_at = frees
    clock = Clock()
    clock.now = frees
    scheduler = database.scheduler(clock, batch=4)
    assert await scheduler.dispatch_due() == 4
    assert await scheduler.dispatch_due() == 2
    async with database.factory() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    commands = [json.loads(r.payload) for r in rows if r.topic == "posts.publish.tiktok.v1"]
    assert [c["target_id"] for c in commands] == [str(ids[i]) for i in range(6)]


async def test_a_due_post_is_held_behind_an_earlier_post_of_its_account_that_waits(
    database: Database,
) -> None:
    """Issue 9 (fresh17): a post scheduled later must not take the slot an earlier post of
    its account waits for. Held until that wait ends, then claimed behind it. Not held: a
    post scheduled before the waiting one, another account's post, and a post of the client
    behind another client's waiting post on an account since re-assigned."""
    account = await database.account()
    elsewhere = await database.account()
    ends = START + timedelta(seconds=5)
    [waits] = await database.targets(
        account, [ends], scheduled=[START - timedelta(minutes=5)], waiting=True
    )
    [later] = await database.targets(account, [START - timedelta(minutes=1)])
    [earlier] = await database.targets(account, [START - timedelta(minutes=6)])
    [other] = await database.targets(elsewhere, [START - timedelta(minutes=1)])
    handed_on = await database.account()
    [foreign] = await database.targets(
        handed_on, [ends], scheduled=[START - timedelta(minutes=9)], waiting=True,
        client_id=uuid.uuid4(),
    )  # fmt: skip
    [mine] = await database.targets(handed_on, [START - timedelta(minutes=1)])
    clock = Clock()
    scheduler = database.scheduler(clock)

    assert await scheduler.dispatch_due() == 3
    assert (await database.status(earlier))[0] == "dispatched", "scheduled before: not held"
    assert (await database.status(other))[0] == "dispatched", "another account: not held"
    assert (await database.status(mine))[0] == "dispatched", "another client's wait: not held"
    assert await database.status(later) == ("scheduled", ends), "held until the wait ends"
    assert await scheduler.seconds_to_next() == pytest.approx(5.0)

    clock.now = ends
    assert await scheduler.dispatch_due() == 2
    async with database.factory() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    commands = [json.loads(r.payload) for r in rows if r.topic == "posts.publish.tiktok.v1"]
    assert [c["target_id"] for c in commands][-2:] == [str(waits), str(later)]
    assert (await database.status(foreign))[0] == "scheduled", "not the client's account now"


async def test_posts_due_at_the_same_moment_are_claimed_in_the_order_they_were_scheduled_for(
    database: Database,
) -> None:
    """Issue 9 (fresh17): an account's posts that one window held came back in the order they
    were queued; they go in the order they were scheduled for, then queued."""
    account = await database.account()
    frees = START
    made = [START - timedelta(minutes=10 - i) for i in range(4)]  # queued 0, 1, 2, 3
    publish = [START - timedelta(minutes=1 + i) for i in range(3)] + [
        START - timedelta(minutes=3)
    ]  # scheduled for 2 (queued before 3), 3, 1, 0
    ids = await database.targets(account, [frees] * 4, created=made, scheduled=publish)
    scheduler = database.scheduler(Clock())
    assert await scheduler.dispatch_due() == 4
    async with database.factory() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    commands = [json.loads(r.payload) for r in rows if r.topic == "posts.publish.tiktok.v1"]
    assert [c["target_id"] for c in commands] == [str(ids[i]) for i in (2, 3, 1, 0)]
