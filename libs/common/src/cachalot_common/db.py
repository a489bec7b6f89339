"""Database wiring shared by the services that own tables.

SQLAlchemy 2 async on PostgreSQL (asyncpg) in distributed mode and tests,
SQLite (aiosqlite) in embedded mode. SQLite gets WAL, a busy timeout and
foreign keys so a few concurrent writers behave; PostgreSQL gets a pool.
Migrations are Alembic, one directory per service, run at start-up (or by
``python -m cachalot_<service> migrate``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def is_sqlite(url: str) -> bool:
    return bool(make_url(url).get_backend_name() == "sqlite")


def create_engine(url: str, *, echo: bool = False, **options: Any) -> AsyncEngine:
    """An async engine with sane settings for either backend."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, **options)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 20)
    options.setdefault("pool_pre_ping", True)
    return create_async_engine(url, echo=echo, **options)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work: commits when the block succeeds, rolls back otherwise."""
    async with factory() as session, session.begin():
        yield session


def database_check(engine: AsyncEngine) -> Any:
    """A readiness check: the database answers ``SELECT 1``."""

    async def check() -> bool:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True

    return check


def run_migrations(alembic_dir: Path, url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` with the service's Alembic scripts.

    Synchronous (Alembic's command API); the service's ``env.py`` runs the
    async engine itself. Call it before the event loop starts, or through
    :func:`run_migrations_async` from inside one.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(alembic_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


async def run_migrations_async(alembic_dir: Path, url: str, revision: str = "head") -> None:
    await asyncio.to_thread(run_migrations, alembic_dir, url, revision)
