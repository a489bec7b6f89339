"""``python -m cachalot_notifier migrate`` prepares a fresh database and exits."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def test_migrate_command_creates_the_dedupe_table_in_a_fresh_sqlite_file(tmp_path: Path):
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
    assert "sent_notifications" in tables
