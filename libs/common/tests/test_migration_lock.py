"""Replicas of one service starting at once on one empty PostgreSQL database.

Each replica, a process of its own, upgrades the schema at start
(:func:`cachalot_common.db.run_migrations`). Two notifier replicas started together both
ran the scripts and one exited on a duplicate key. Here two processes upgrade and are made
to overlap for certain: the test's one migration waits on a gate (an advisory lock the
test holds) after Alembic has begun writing, the second upgrade starts and is seen waiting
on a lock, and only then the gate opens.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from cachalot_common.db import create_engine

GATE = 7_301_999_001  # advisory lock key the test holds while the first upgrade is inside

ENV = """\
from sqlalchemy import MetaData

from cachalot_common.db import run_alembic_env

run_alembic_env(MetaData())
"""

SCRIPT = f"""\
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("things", sa.Column("id", sa.Integer, primary_key=True))
    op.execute("SELECT pg_advisory_xact_lock_shared({GATE})")
"""


def gated_scripts(directory: Path) -> Path:
    """An Alembic directory of one revision, ``0001``, that waits on :data:`GATE`."""
    (directory / "versions").mkdir(parents=True)
    (directory / "env.py").write_text(ENV)
    (directory / "versions" / "0001_gated.py").write_text(SCRIPT)
    return directory


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
    alembic_dir = gated_scripts(tmp_path / "alembic")
    engine = create_engine(postgres_database, poolclass=NullPool)
    replicas: list[asyncio.subprocess.Process] = []
    try:
        async with engine.connect() as gate:
            await gate.execute(text("SELECT pg_advisory_lock(:key)"), {"key": GATE})
            await gate.commit()
            replicas.append(await replica(alembic_dir, postgres_database))
            await lock_waiters(engine, 1)  # the first is inside its migration, at the gate
            replicas.append(await replica(alembic_dir, postgres_database))
            await lock_waiters(engine, 2)  # the second has begun and waits too
            await gate.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": GATE})
            await gate.commit()
        assert [await outcome(process) for process in replicas] == ["ok", "ok"]
        async with engine.connect() as connection:
            versions = await connection.scalars(text("SELECT version_num FROM alembic_version"))
            assert list(versions) == ["0001"]
            assert await connection.scalar(text("SELECT to_regclass('things') IS NOT NULL"))
    finally:
        for process in replicas:  # the gate is open by now: each ends by itself
            await process.wait()
        await engine.dispose()
