"""Account names: the queue keeps as many characters as auth does (one constant)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from cachalot_common.db import run_migrations_async
from cachalot_common.events import ACCOUNT_NAME_MAX_CHARS
from cachalot_queue.main import ALEMBIC_DIR, build_engine
from cachalot_queue.tables import Account, Post, Target

pytestmark = pytest.mark.integration


async def test_an_account_name_as_long_as_auth_keeps_is_stored_whole_on_postgresql(
    postgres,
) -> None:
    """Read-back of session 8: the queue kept 200 characters of a name auth keeps up to 256,
    so a longer name on accounts.v1 (and the target that copies it) failed on PostgreSQL."""
    url = postgres.create_database(f"n_{uuid.uuid4().hex[:12]}")
    await run_migrations_async(ALEMBIC_DIR, url)
    engine = build_engine(url)
    name = "Ж" * ACCOUNT_NAME_MAX_CHARS
    now = datetime.now(UTC)
    account, client, post = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(Account),
                [{"id": account, "client_id": client, "platform": "vk", "status": "connected",
                  "changed_at": now, "display_name": name}],
            )  # fmt: skip
            await connection.execute(
                insert(Post),
                [{"id": post, "client_id": client, "kind": "text", "scheduled_at": now,
                  "created_at": now}],
            )  # fmt: skip
            await connection.execute(
                insert(Target),
                [{"id": uuid.uuid4(), "post_id": post, "position": 0, "client_id": client,
                  "account_id": account, "platform": "vk", "account_name": name,
                  "options": {"platform": "vk"}, "status": "scheduled", "attempt": 0,
                  "budget_start": 0, "reconciles": 0, "due_at": now, "created_at": now,
                  "updated_at": now}],
            )  # fmt: skip
        async with engine.connect() as connection:
            stored = (await connection.execute(select(Account.display_name))).scalar_one()
            copied = (await connection.execute(select(Target.account_name))).scalar_one()
    finally:
        await engine.dispose()
    assert stored == copied == name
