"""The auth migrations build the tables the code maps, and keep what was stored."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from cachalot_auth.main import ALEMBIC_DIR
from cachalot_auth.models import Base
from cachalot_common.db import run_migrations, schema_differences


def test_migrations_match_the_models(tmp_path: Path) -> None:
    assert schema_differences(ALEMBIC_DIR, Base.metadata, tmp_path / "auth.db") == []


def test_vk_community_ids_stored_before_names_keep_their_ids_without_names(
    tmp_path: Path,
) -> None:
    database = tmp_path / "auth.db"
    url = f"sqlite+aiosqlite:///{database}"
    run_migrations(ALEMBIC_DIR, url, "0010")
    with sqlite3.connect(database) as connection:
        connection.execute("INSERT INTO clients (id, created_at) VALUES ('c1', '2026-11-30')")
        for account, communities in (("a1", "41 42"), ("a2", None)):
            connection.execute(
                "INSERT INTO accounts (id, client_id, platform, platform_user_id, status, "
                "scopes, communities, created_at, updated_at, connected_at) VALUES "
                "(?, 'c1', 'vk', ?, 'ok', '', ?, '2026-11-30', '2026-11-30', '2026-11-30')",
                (account, account, communities),
            )
    connection.close()

    run_migrations(ALEMBIC_DIR, url)

    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT id, vk_communities FROM accounts ORDER BY id").fetchall()
    connection.close()
    assert [(a, None if v is None else json.loads(v)) for a, v in rows] == [
        (
            "a1",
            [
                {"id": 41, "name": None, "screen_name": None},
                {"id": 42, "name": None, "screen_name": None},
            ],
        ),
        ("a2", None),
    ]
