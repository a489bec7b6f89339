"""The Alembic migrations build exactly the tables the code maps."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from cachalot_common.db import run_migrations, schema_differences
from cachalot_queue.main import ALEMBIC_DIR
from cachalot_queue.tables import Base


def test_migrations_match_the_models(tmp_path: Path) -> None:
    assert schema_differences(ALEMBIC_DIR, Base.metadata, tmp_path / "queue.db") == []


def test_posts_queued_before_post_kinds_become_video_posts_with_their_file(
    tmp_path: Path,
) -> None:
    database = tmp_path / "queue.db"
    url = f"sqlite+aiosqlite:///{database}"
    run_migrations(ALEMBIC_DIR, url, "0005")
    post_id, media_id = uuid.uuid4().hex, uuid.uuid4().hex
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO posts (id, client_id, media_id, scheduled_at, created_at) "
            "VALUES (?, ?, ?, '2026-11-30 10:00:00', '2026-11-30 10:00:00')",
            (post_id, uuid.uuid4().hex, media_id),
        )
    connection.close()

    run_migrations(ALEMBIC_DIR, url)

    with sqlite3.connect(database) as connection:
        kinds = connection.execute("SELECT id, kind FROM posts").fetchall()
        files = connection.execute("SELECT * FROM post_media").fetchall()
    connection.close()
    assert kinds == [(post_id, "video")]
    assert files == [(post_id, 0, media_id, "video")]
