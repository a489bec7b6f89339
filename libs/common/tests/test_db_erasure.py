"""Erased text leaves SQLite's files: ``secure_delete`` zeroes a deleted row's bytes in the
database, and :func:`cachalot_common.db.checkpoint_after_commit` empties the WAL, which
still holds the pages as they were (issue 13: a client's e-mail stayed in
``var/auth.db-wal`` after ``DELETE /api/v1/me``)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import text

from cachalot_common.db import checkpoint_after_commit, create_engine, session_factory

SECRET = b"erase-me-7d1f@example.com"


def holding(database: Path) -> list[str]:
    return [p.name for p in database.parent.glob(f"{database.name}*") if SECRET in p.read_bytes()]


async def test_a_row_deleted_by_an_erasure_is_in_no_file_of_the_sqlite_database(
    tmp_path: Path,
) -> None:
    database = tmp_path / "service.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    factory = session_factory(engine)
    try:
        async with factory() as db, db.begin():
            await db.execute(text("CREATE TABLE clients (id INTEGER PRIMARY KEY, email TEXT)"))
            for n in range(20):
                await db.execute(
                    text("INSERT INTO clients (email) VALUES (:e)"),
                    {"e": SECRET.decode() if n == 7 else f"other{n}@example.com"},
                )
        async with engine.connect() as connection:  # the row in the database file too
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        assert holding(database) == ["service.db"]
        async with engine.connect() as connection:  # set, whatever the build's default
            assert (await connection.exec_driver_sql("PRAGMA secure_delete")).scalar() == 1

        async with factory() as db, db.begin():
            checkpoint_after_commit(db)
            await db.execute(text("DELETE FROM clients WHERE email = :e"), {"e": SECRET.decode()})
        deadline = time.monotonic() + 10
        while holding(database):  # the checkpoint runs after the commit, in a task
            assert time.monotonic() < deadline, f"still in {holding(database)}"
            await asyncio.sleep(0.05)
        async with factory() as db:
            assert await db.scalar(text("SELECT count(*) FROM clients")) == 19
    finally:
        await engine.dispose()
