"""A start of the tracing UI cut short never leaves a database Phoenix cannot start on
(issue 13: Phoenix, stopped at the start limit while migrating, left ``phoenix.db`` with
its tables and no revision; every later start failed ``table projects already exists``
and the supervisor restarted it for ever)."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cachalot_embedded import traces

BROKEN_COPY = Path("/tmp/f13d_phoenix_broken.db")  # the one the fresh user's try left


def half_migrated(database: Path) -> None:
    """What Phoenix's first migration leaves when stopped before it stamps its revision."""
    if BROKEN_COPY.is_file():
        shutil.copyfile(BROKEN_COPY, database)
        return
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
        db.execute("CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT)")


def test_a_database_left_half_migrated_is_set_aside_and_kept(tmp_path: Path) -> None:
    database = tmp_path / traces.DATABASE
    half_migrated(database)
    (tmp_path / f"{traces.DATABASE}-wal").write_bytes(b"")
    aside = traces.set_aside_unfinished(tmp_path, now=datetime(2026, 12, 2, 1, 50, tzinfo=UTC))
    assert aside == tmp_path / "phoenix.db.unfinished-20261202T015000Z"
    assert aside.is_file()
    assert not database.exists()
    assert not (tmp_path / f"{traces.DATABASE}-wal").exists()  # with it (or merged into it)
    assert traces.set_aside_unfinished(tmp_path) is None


def test_a_finished_database_a_new_one_and_an_unreadable_one_stay(tmp_path: Path) -> None:
    database = tmp_path / traces.DATABASE
    assert traces.set_aside_unfinished(tmp_path) is None  # none yet: Phoenix makes it
    database.write_bytes(b"not a database at all, Phoenix says so itself" * 100)
    assert traces.set_aside_unfinished(tmp_path) is None
    database.unlink()
    half_migrated(database)
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO alembic_version VALUES ('cf03bd6bae1d')")
    assert traces.set_aside_unfinished(tmp_path) is None
    assert database.is_file()


def test_the_start_limit_is_a_setting_and_nonsense_is_named(tmp_path: Path) -> None:
    assert traces.start_timeout_s({}) == traces.START_TIMEOUT_S
    assert traces.start_timeout_s({"CACHALOT_DEV_TRACES_START_S": "600"}) == 600.0
    for bad in ("0", "-5", "soon", "inf", "nan"):
        with pytest.raises(ValueError, match="CACHALOT_DEV_TRACES_START_S"):
            traces.start_timeout_s({"CACHALOT_DEV_TRACES_START_S": bad})
