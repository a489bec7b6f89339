"""The queue's scheduler: idle tick and claim time against the backlog of future posts.

For SQLite and PostgreSQL (a private cluster, started for the run), at 0,
20,000 and 100,000 future posts (100 accounts of 20 clients, due over the
next year; PostgreSQL vacuumed and analysed after seeding, as autovacuum
would, SQLite without statistics, as it runs), times through the queue's real
:class:`~cachalot_queue.dispatch.Scheduler` and engines:

* *idle tick*: ``seconds_to_next()`` with nothing due (the read an idle
  scheduler runs up to five times a second);
* *claim*: ``dispatch_due()`` of a small due set (10 targets due now on
  connected accounts: claim, account check, 10 commands and 10 status events
  through the outbox, commit). The set is put back to ``scheduled`` between
  runs, untimed.

Beside each figure, the same run times the code before issue 9 on a second
database with the same rows: its ``ix_targets_due`` on ``due_at`` alone, and
its queries (the next-due ``min(due_at)`` and the claim joined to
``accounts`` on holder and status) through the same scheduler code,
interleaved in blocks of 25 runs, so the ratio holds on a noisy machine; and, for the
idle tick, the floor of any read: ``SELECT 1`` the way the tick reads (a
bare reader connection). Target: < 1 ms at 100,000 on both.

Run: ``uv run python bench/scheduler.py [-n 200] [--backlogs 0,20000,100000]
[--sqlite-only | --postgres-only]``
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cachalot_common.db import is_sqlite, run_migrations_async
from cachalot_common.events import TikTokOptions
from cachalot_common.grants import generate_signing_key
from cachalot_common.wakeup import Wakeup
from cachalot_queue.dispatch import Granter, Scheduler
from cachalot_queue.main import ALEMBIC_DIR, build_engine, build_reader
from cachalot_queue.outbox import session_factory
from cachalot_queue.tables import Account, Media, Post, Target

CLIENTS, ACCOUNTS, DUE_SET = 20, 100, 10
CHUNK = 10_000
LEGACY_INDEX = "CREATE INDEX ix_targets_due ON targets (due_at) WHERE status = 'scheduled'"
GRANTS = Granter(key=generate_signing_key("bench"), lifetime_s=3600)
# a target's stored options as the API stores them (a row no command can be built from
# is failed by the claim instead, and the claim's time would be that of its error path)
OPTIONS = TikTokOptions(caption="bench", privacy_level="SELF_ONLY").model_dump(mode="json")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _held() -> ColumnElement[bool]:
    return and_(Account.id == Target.account_id, Account.client_id == Target.client_id)


class LegacyScheduler(Scheduler):
    """The query shape before issue 9: both reads join ``accounts`` (holder and status)."""

    legacy_reader: async_sessionmaker[AsyncSession]
    legacy_lock: bool

    async def seconds_to_next(self) -> float:
        query = (
            select(func.min(Target.due_at))
            .join(Account, _held())
            .where(Target.status == "scheduled", Account.status == "connected")
        )
        async with self.legacy_reader() as session:
            next_due = await session.scalar(query)
        if next_due is None:
            return 0.2
        return max(0.0, min(0.2, (next_due - utcnow()).total_seconds()))

    async def claim(self, session: AsyncSession, now: datetime) -> list[Target]:
        query = (
            select(Target)
            .join(Account, _held())
            .where(Target.status == "scheduled", Target.due_at <= now)
            .where(Account.status == "connected")
            .order_by(Target.due_at)
            .limit(200)
        )
        if self.legacy_lock:
            query = query.with_for_update(of=Target, skip_locked=True)
        return list((await session.scalars(query)).all())


@dataclass
class Seed:
    """Clients, accounts and videos, the same in both databases of a backend."""

    clients: list[uuid.UUID]
    accounts: list[tuple[uuid.UUID, uuid.UUID]]  # (account, client)
    media: dict[uuid.UUID, uuid.UUID]  # client → media

    @classmethod
    def make(cls) -> Seed:
        clients = [uuid.uuid4() for _ in range(CLIENTS)]
        accounts = [(uuid.uuid4(), clients[i % CLIENTS]) for i in range(ACCOUNTS)]
        return cls(clients, accounts, {c: uuid.uuid4() for c in clients})

    def posts(
        self, offset: int, count: int, first: datetime, step: timedelta
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """``count`` post and target rows due ``step`` apart from ``first``.

        Round-robin over the accounts; ``offset``: how many were made before.
        """
        now = utcnow()
        posts, targets = [], []
        for i in range(count):
            account, client = self.accounts[(offset + i) % ACCOUNTS]
            post, at = uuid.uuid4(), first + i * step
            posts.append(
                {"id": post, "client_id": client, "media_id": self.media[client],
                 "scheduled_at": at, "created_at": now}
            )  # fmt: skip
            targets.append(
                {"id": uuid.uuid4(), "post_id": post, "position": 0, "client_id": client,
                 "account_id": account, "platform": "tiktok",
                 "options": OPTIONS,
                 "status": "scheduled", "attempt": 0, "budget_start": 0, "reconciles": 0,
                 "due_at": at, "created_at": now, "updated_at": now}
            )  # fmt: skip
        return posts, targets


@dataclass
class Store:
    """One queue database (migrated to head; ``legacy``: with the index before issue 9)."""

    engine: AsyncEngine
    reader_engine: AsyncEngine
    factory: async_sessionmaker[AsyncSession]
    reader: async_sessionmaker[AsyncSession]
    postgres: bool
    legacy: bool
    due: list[uuid.UUID] = field(default_factory=list)

    @classmethod
    async def open(cls, url: str, seed: Seed, *, legacy: bool) -> Store:
        await run_migrations_async(ALEMBIC_DIR, url)
        engine = build_engine(url)
        reader_engine = build_reader(url, engine)
        now = utcnow()
        async with engine.begin() as connection:
            if legacy:
                await connection.exec_driver_sql("DROP INDEX ix_targets_due")
                await connection.exec_driver_sql(LEGACY_INDEX)
            await connection.execute(
                insert(Account),
                [
                    {"id": a, "client_id": c, "platform": "tiktok", "status": "connected",
                     "changed_at": now}
                    for a, c in seed.accounts
                ],
            )  # fmt: skip
            await connection.execute(
                insert(Media),
                [
                    {"id": m, "client_id": c, "path": f"{m}.mp4", "size": 1000,
                     "sha256": "a" * 64, "content_type": "video/mp4", "duration_sec": 5.0,
                     "created_at": now}
                    for c, m in seed.media.items()
                ],
            )  # fmt: skip
        return cls(
            engine, reader_engine, session_factory(engine), session_factory(reader_engine),
            not is_sqlite(url), legacy,
        )  # fmt: skip

    async def add(self, posts: list[dict[str, Any]], targets: list[dict[str, Any]]) -> None:
        for start in range(0, len(posts), CHUNK):
            async with self.engine.begin() as connection:
                await connection.execute(insert(Post), posts[start : start + CHUNK])
                await connection.execute(insert(Target), targets[start : start + CHUNK])

    async def settle(self) -> None:
        """What a running database does by itself after the inserts.

        PostgreSQL: ``VACUUM (ANALYZE)`` and a checkpoint, as autovacuum and the
        checkpointer would (else they run during the timings). SQLite: a checkpointed
        WAL, as its autocheckpoint keeps it; no statistics, as SQLite never
        gathers them unless someone runs ``ANALYZE`` (the queue does not).
        """
        if self.postgres:  # VACUUM runs outside a transaction
            async with self.bare_reader.connect() as connection:
                await connection.exec_driver_sql("VACUUM (ANALYZE) targets")
                await connection.exec_driver_sql("VACUUM (ANALYZE) posts")
                await connection.exec_driver_sql("CHECKPOINT")
            return
        async with self.reader_engine.connect() as connection:  # the writer's BEGIN IMMEDIATE
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    async def select_one(self) -> None:
        """The floor of any read: ``SELECT 1`` the way the idle tick reads.

        A bare connection of the reader engine, in autocommit on PostgreSQL.
        """
        async with self.bare_reader.connect() as connection:
            await connection.scalar(select(1))

    @cached_property
    def bare_reader(self) -> AsyncEngine:
        if self.postgres:
            return self.reader_engine.execution_options(isolation_level="AUTOCOMMIT")
        return self.reader_engine

    async def make_due(self, ids: list[uuid.UUID]) -> None:
        async with self.factory() as session, session.begin():
            await session.execute(
                update(Target)
                .where(Target.id.in_(ids))
                .values(status="scheduled", due_at=utcnow() - timedelta(seconds=1))
            )

    async def check_dispatched(self) -> None:
        """Raise ``SystemExit`` naming the fault unless every target of the due set was
        dispatched (a command and its events made), so the claim timed is the real one."""
        async with self.reader() as session:
            statuses = await session.scalars(
                select(Target.status).where(Target.id.in_(self.due)).distinct()
            )
            found = sorted(statuses.all())
        if found != ["dispatched"]:
            raise SystemExit(
                f"bench/scheduler.py: the due set's targets are {found} after a claim, not"
                " all dispatched: its seeded rows no longer make valid commands (see the"
                " queue's log line 'cannot be dispatched'); fix Seed.posts"
            )

    def scheduler(self) -> Scheduler:
        """The queue's scheduler, or (``legacy``) the same with the query shape before issue 9."""
        kind = LegacyScheduler if self.legacy else Scheduler
        scheduler = kind(
            self.factory, reader=self.reader, clock=utcnow, wake=Wakeup(),
            relay_wake=Wakeup(), claim_with_lock=self.postgres, grants=GRANTS,
        )  # fmt: skip
        if isinstance(scheduler, LegacyScheduler):
            scheduler.legacy_reader, scheduler.legacy_lock = self.reader, self.postgres
        return scheduler

    async def close(self) -> None:
        await self.engine.dispose()
        if self.reader_engine is not self.engine:
            await self.reader_engine.dispose()


async def timed(call: Callable[[], Awaitable[object]]) -> float:
    start = time.perf_counter()
    await call()
    return (time.perf_counter() - start) * 1000


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


@dataclass
class Row:
    backend: str
    backlog: int
    case: str
    new: tuple[float, float]
    old: tuple[float, float]
    floor: tuple[float, float] | None = None


async def measure(now: Store, before: Store, backend: str, backlog: int, runs: int) -> list[Row]:
    new, old = now.scheduler(), before.scheduler()
    idle_new: list[float] = []
    idle_old: list[float] = []
    floor: list[float] = []
    for _ in range(10):  # warm the pools and statement caches
        await new.seconds_to_next()
        await old.seconds_to_next()
        await now.select_one()
    # Alternating blocks, not single calls: the old query's work (on PostgreSQL a
    # parallel worker that exits after it) would otherwise land in the next timing.
    block = 25
    for start in range(0, runs, block):
        size = min(block, runs - start)
        for call, samples in (
            (new.seconds_to_next, idle_new),
            (now.select_one, floor),
            (old.seconds_to_next, idle_old),
        ):
            await call()  # untimed: the block's first call pays for what ran before
            for _ in range(size):
                samples.append(await timed(call))
    claim_new: list[float] = []
    claim_old: list[float] = []
    claims = max(20, runs // 4)
    for run in range(claims + 10):
        for store, scheduler, samples in ((now, new, claim_new), (before, old, claim_old)):
            await store.make_due(store.due)
            took = await timed(scheduler.dispatch_due)
            if run >= 10:  # the first are warm-up
                samples.append(took)
    for store in (now, before):
        await store.check_dispatched()  # the last claim's targets
    return [
        Row(backend, backlog, "idle tick", stats(idle_new), stats(idle_old), stats(floor)),
        Row(backend, backlog, f"claim of {DUE_SET}", stats(claim_new), stats(claim_old)),
    ]


async def bench_backend(
    backend: str, urls: tuple[str, str], backlogs: list[int], runs: int
) -> list[Row]:
    """Both databases of a backend, grown to each backlog in turn (same rows in both)."""
    seed = Seed.make()
    now = await Store.open(urls[0], seed, legacy=False)
    before = await Store.open(urls[1], seed, legacy=True)
    rows: list[Row] = []
    try:
        # the due set (dispatched after each run, so never part of the idle backlog)
        posts, targets = seed.posts(0, DUE_SET, utcnow(), timedelta(0))
        for store in (now, before):
            await store.add(posts, targets)
            store.due = [t["id"] for t in targets]
            await store.make_due(store.due)
            await store.scheduler().dispatch_due()
            await store.check_dispatched()
        made = 0
        for backlog in backlogs:
            step = timedelta(days=365) / max(backlog, 1)
            first = utcnow() + timedelta(hours=1) + made * step
            posts, targets = seed.posts(made, backlog - made, first, step)
            made = backlog
            for store in (now, before):
                await store.add(posts, targets)
                await store.settle()
            rows.extend(await measure(now, before, backend, backlog, runs))
            print(f"  {backend} at {backlog:,} future posts measured", flush=True)
    finally:
        await now.close()
        await before.close()
    return rows


def report(rows: list[Row]) -> None:
    print()
    print(
        f"{'database':<10} {'future posts':>12}  {'case':<12} "
        f"{'now: median / p95 ms':>22}  {'before: median / p95 ms':>24}  {'ratio':>6}"
        f"  {'SELECT 1: median / p95':>22}"
    )
    for row in rows:
        ratio = row.old[0] / row.new[0] if row.new[0] else float("nan")
        print(
            f"{row.backend:<10} {row.backlog:>12,}  {row.case:<12} "
            f"{row.new[0]:>10.2f} / {row.new[1]:>8.2f}  "
            f"{row.old[0]:>11.2f} / {row.old[1]:>9.2f}  {ratio:>5.1f}x"
            + (f"  {row.floor[0]:>10.2f} / {row.floor[1]:>9.2f}" if row.floor else "")
        )
    largest = max(r.backlog for r in rows)
    print(f"\ntarget: idle tick < 1 ms (median) at {largest:,} future posts")
    for row in rows:
        if row.backlog == largest and row.floor is not None:
            verdict = "met" if row.new[0] < 1.0 else "NOT met"
            print(
                f"  {row.backend}: {row.new[0]:.2f} ms, {verdict}; the query's own share "
                f"(tick - SELECT 1): {row.new[0] - row.floor[0]:.2f} ms, "
                f"before: {row.old[0] - row.floor[0]:.2f} ms"
            )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", "--runs", type=int, default=200, help="idle ticks per case")
    parser.add_argument("--backlogs", default="0,20000,100000")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--sqlite-only", action="store_true")
    which.add_argument("--postgres-only", action="store_true")
    args = parser.parse_args()
    backlogs = sorted(int(b) for b in args.backlogs.split(","))
    rows: list[Row] = []
    if not args.postgres_only:
        with tempfile.TemporaryDirectory(prefix="bench-scheduler-") as tmp:
            sqlite = (
                f"sqlite+aiosqlite:///{Path(tmp)}/now.db",
                f"sqlite+aiosqlite:///{Path(tmp)}/before.db",
            )
            rows += await bench_backend("SQLite", sqlite, backlogs, args.runs)
    if not args.sqlite_only:
        from cachalot_testing.postgres import PostgresCluster

        cluster = PostgresCluster().start()
        try:
            postgres = (cluster.create_database("now"), cluster.create_database("before"))
            rows += await bench_backend("PostgreSQL", postgres, backlogs, args.runs)
        finally:
            cluster.stop()
    report(rows)


if __name__ == "__main__":
    asyncio.run(main())
