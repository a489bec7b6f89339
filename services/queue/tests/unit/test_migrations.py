"""The Alembic migrations build exactly the tables the code maps."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from cachalot_common.db import run_migrations
from cachalot_queue.main import ALEMBIC_DIR
from cachalot_queue.tables import Base


def test_migrations_match_the_models(tmp_path: Path) -> None:
    database = tmp_path / "queue.db"
    run_migrations(ALEMBIC_DIR, f"sqlite+aiosqlite:///{database}")
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []
