"""``python -m cachalot_notifier migrate`` prepares a fresh database and exits."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from cachalot_common.db import create_engine, run_migrations_async, session_factory
from cachalot_notifier.dedupe import NotificationKey
from cachalot_notifier.deliveries import DeliveryStore, Intent
from cachalot_notifier.main import ALEMBIC_DIR


def test_migrate_command_creates_the_deliveries_tables_in_a_fresh_sqlite_file(tmp_path: Path):
    env = {
        **os.environ,
        "CACHALOT_TELEGRAM_BOT_TOKEN": "1:abc",
        "CACHALOT_OPERATOR_CHAT_ID": "12345",
        "CACHALOT_LOG_FORMAT": "text",
    }
    env.pop("CACHALOT_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "cachalot_notifier", "migrate"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    database = tmp_path / "var" / "notifier.db"
    tables = {row[0] for row in sqlite3.connect(database).execute("select name from sqlite_master")}
    assert {"deliveries", "chat_migrations"} <= tables
    assert "sent_notifications" not in tables


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    return str(request.getfixturevalue("postgres_database"))


async def test_notifications_sent_before_the_upgrade_are_still_never_sent_again(database):
    await run_migrations_async(ALEMBIC_DIR, database, "0001")
    key = NotificationKey("contact.submitted.v1", uuid.uuid4(), "operator_telegram")
    engine = create_engine(database)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO sent_notifications (dedupe_key, source_topic, event_id, channel,"
                    " sent_at, telegram_message_id) VALUES (:k, :t, :e, :c, :s, 7)"
                ),
                {
                    "k": str(key),
                    "t": key.topic,
                    "e": key.event_id if "postgresql" in database else key.event_id.hex,
                    "c": key.channel,
                    "s": datetime.now(UTC),
                },
            )
        await run_migrations_async(ALEMBIC_DIR, database)
        store = DeliveryStore(session_factory(engine))
        assert await store.state_of(key) == "sent"
        intent = Intent(key, "424242|t", "424242", "x", None, "x", "", "")
        assert await store.record(intent, now=0.0) is False
        assert await store.lane_heads() == []
    finally:
        await engine.dispose()
