"""Schema upgrades started at once: replicas of one service, services of one process.

Each replica, a process of its own, upgrades the schema at start
(:func:`cachalot_common.db.run_migrations`). Two notifier replicas started together both
ran the scripts and one exited on a duplicate key. Services run in one process (test
stacks) upgrade in threads through Alembic's process-wide ``context`` and ``op``. Here two
upgrades are made to overlap for certain: the test's gated migration waits on a gate (an
advisory lock the test holds) after Alembic has begun writing, the second upgrade starts
and is seen waiting (or, unserialised, done), and only then the gate opens.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from cachalot_common.db import create_engine, run_migrations_async

GATE = 7_301_999_001  # advisory lock key the test holds while the first upgrade is inside

ENV = """\
from sqlalchemy import MetaData

from cachalot_common.db import run_alembic_env

run_alembic_env(MetaData())
"""

REVISION = """\
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))
"""

GATED = f"""{REVISION}    op.execute("SELECT pg_advisory_xact_lock_shared({GATE})")
"""


def scripts(directory: Path, revision: str = GATED) -> Path:
    """An Alembic directory of one revision, ``0001`` (by default one that waits on
    :data:`GATE`, PostgreSQL only)."""
    (directory / "versions").mkdir(parents=True)
    (directory / "env.py").write_text(ENV)
    (directory / "versions" / "0001_things.py").write_text(revision)
    return directory


@asynccontextmanager
async def gate_closed(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold :data:`GATE` for the block: a gated migration waits inside it till the end."""
    async with engine.connect() as gate:
        await gate.execute(text("SELECT pg_advisory_lock(:key)"), {"key": GATE})
        await gate.commit()
        yield
        await gate.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": GATE})
        await gate.commit()


async def versions(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM things")) == 0
            return list(await connection.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        await engine.dispose()


async def lock_waiters(engine: AsyncEngine, count: int, timeout: float = 30.0) -> None:
    """Return once ``count`` sessions of the database wait on a lock (raise on timeout)."""
    async with engine.connect() as connection, asyncio.timeout(timeout):
        while True:
            waiting = await connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            await connection.rollback()  # pg_stat_activity is read once per transaction
            if waiting == count:
                return
            await asyncio.sleep(0.05)


async def replica(alembic_dir: Path, url: str) -> asyncio.subprocess.Process:
    """A process that upgrades ``url`` to head with ``alembic_dir``, as a replica at start."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; from pathlib import Path; from cachalot_common.db import run_migrations;"
        " run_migrations(Path(sys.argv[1]), sys.argv[2])",
        str(alembic_dir),
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def outcome(process: asyncio.subprocess.Process) -> str:
    """``"ok"``, or the exit code and the exception the process ended on."""
    output, _ = await process.communicate()
    if process.returncode == 0:
        return "ok"
    raised = [line for line in output.decode(errors="replace").splitlines() if "Error: " in line]
    return f"exit {process.returncode}: {(raised or [''])[-1][:200]}"


async def test_two_replicas_upgrading_one_empty_postgresql_database_at_once_both_succeed_and_it_is_at_head_once(  # noqa: E501
    postgres_database: str, tmp_path: Path
) -> None:
    alembic_dir = scripts(tmp_path / "alembic")
    engine = create_engine(postgres_database, poolclass=NullPool)
    replicas: list[asyncio.subprocess.Process] = []
    try:
        async with gate_closed(engine):
            replicas.append(await replica(alembic_dir, postgres_database))
            await lock_waiters(engine, 1)  # the first is inside its migration, at the gate
            replicas.append(await replica(alembic_dir, postgres_database))
            await lock_waiters(engine, 2)  # the second has begun and waits too
        assert [await outcome(process) for process in replicas] == ["ok", "ok"]
        assert await versions(postgres_database) == ["0001"]
    finally:
        for process in replicas:  # the gate is open by now: each ends by itself
            await process.wait()
        await engine.dispose()


async def test_two_services_upgrading_in_threads_of_one_process_at_once_both_succeed(
    postgres_database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cachalot_common.db")
    other_database = f"sqlite+aiosqlite:///{tmp_path}/other.db"
    engine = create_engine(postgres_database, poolclass=NullPool)
    upgrades: list[asyncio.Task[None]] = []
    try:
        async with gate_closed(engine):
            gated = scripts(tmp_path / "gated")
            upgrades.append(asyncio.create_task(run_migrations_async(gated, postgres_database)))
            await lock_waiters(engine, 1)  # the first is inside its migration, at the gate
            other = scripts(tmp_path / "other", REVISION)
            upgrades.append(asyncio.create_task(run_migrations_async(other, other_database)))
            async with asyncio.timeout(30):  # the second says it waits (or has run already)
                while not (upgrades[1].done() or "wait for another upgrade" in caplog.text):
                    await asyncio.sleep(0.05)
        outcomes = await asyncio.gather(*upgrades, return_exceptions=True)
        assert [repr(outcome) for outcome in outcomes] == ["None", "None"]
        assert await versions(postgres_database) == ["0001"]
        assert await versions(other_database) == ["0001"]
    finally:
        await asyncio.gather(*upgrades, return_exceptions=True)  # the gate is open by now
        await engine.dispose()
