"""Database wiring shared by the services that own tables.

SQLAlchemy 2 async on PostgreSQL (asyncpg) in distributed mode and tests,
SQLite (aiosqlite) in embedded mode. SQLite gets WAL, a busy timeout and
foreign keys so a few concurrent writers behave, and ``secure_delete`` so a deleted
row's bytes are overwritten with zeros (a client's erasure, then
:func:`checkpoint_after_commit` empties the WAL); PostgreSQL gets a pool (a deleted
row stays in its pages until VACUUM reuses them: README, "Privacy").
Migrations are Alembic, one directory per service, run at start-up (or by
``python -m cachalot_<service> migrate``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

logger = logging.getLogger(__name__)

_UPGRADING = threading.Lock()
"""Held by the one Alembic command of this process that runs (see :func:`run_migrations`)."""


def is_sqlite(url: str) -> bool:
    return bool(make_url(url).get_backend_name() == "sqlite")


def create_engine(
    url: str, *, echo: bool = False, sqlite_foreign_keys: bool = True, **options: Any
) -> AsyncEngine:
    """An async engine with sane settings for either backend.

    ``sqlite_foreign_keys=False`` leaves SQLite's foreign-key enforcement off
    (migrations want that: see :func:`run_alembic_env`). The pool sizing
    defaults apply only to the default pool, not to an explicit ``poolclass``.
    """
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
            if sqlite_foreign_keys:
                cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        return engine
    if "poolclass" not in options:
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 20)
        options.setdefault("pool_pre_ping", True)
    return create_async_engine(url, echo=echo, **options)


_CHECKPOINTS: set[asyncio.Task[None]] = set()
"""Checkpoints under way (:func:`checkpoint_after_commit`), kept from the collector."""


def checkpoint_after_commit(session: AsyncSession) -> None:
    """After ``session``'s transaction commits, on SQLite: write the WAL into the database
    and truncate it (``PRAGMA wal_checkpoint(TRUNCATE)``), in a task of the running loop.
    For an erasure: with ``secure_delete`` (:func:`create_engine`) the rows it deleted are
    zeros in the database file, but the WAL still holds the pages as they were until a
    checkpoint, possibly long after. Nothing on PostgreSQL, nothing after a rollback. A
    failed checkpoint is logged (the next automatic one empties the WAL later)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return
    engine = bind.engine if isinstance(bind, Connection) else bind

    def committed(_session: Any) -> None:
        task = asyncio.get_running_loop().create_task(_checkpoint(engine))
        _CHECKPOINTS.add(task)
        task.add_done_callback(_CHECKPOINTS.discard)

    event.listen(session.sync_session, "after_commit", committed, once=True)


async def _checkpoint(engine: Any) -> None:
    try:
        async with AsyncEngine(engine).connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            busy, _, _ = (await autocommit.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))).one()
        if busy:
            logger.warning("WAL checkpoint after an erasure was blocked; SQLite's own follows")
    except Exception:
        logger.exception("WAL checkpoint after an erasure failed")


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
    :func:`run_migrations_async` from inside one. On PostgreSQL, callers upgrading
    one database at once (replicas starting together) take turns on an advisory
    lock and the later ones find the schema at head (see :func:`_lock_migrations`).
    Within one process upgrades run one at a time, whatever their database:
    Alembic's ``context`` and ``op`` are module-wide proxies to the one command
    running (``alembic.util.langhelpers.ModuleClsProxy``), so two at once in
    threads would swap them (a ``KeyError`` when the first one ends). A caller
    that must wait logs so at INFO first.
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(alembic_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if not _UPGRADING.acquire(blocking=False):
        logger.info("migrations of %s wait for another upgrade in this process", alembic_dir)
        _UPGRADING.acquire()
    try:
        command.upgrade(config, revision)
    finally:
        _UPGRADING.release()


async def run_migrations_async(alembic_dir: Path, url: str, revision: str = "head") -> None:
    await asyncio.to_thread(run_migrations, alembic_dir, url, revision)


def schema_differences(alembic_dir: Path, metadata: MetaData, database: Path) -> list[Any]:
    """What Alembic's autogenerate finds between ``metadata`` (the tables the code maps) and
    the schema the service's migrations build in a new SQLite file at ``database``; ``[]``
    when they agree. Column types are not compared (SQLite keeps few of them). For each
    service's test that its migrations and models match."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import create_engine

    run_migrations(alembic_dir, f"sqlite+aiosqlite:///{database}")
    engine = create_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def run_alembic_env(target_metadata: MetaData, *, version_table: str | None = None) -> None:
    """The whole body of a service's Alembic ``env.py``.

    The URL comes from the caller's config (:func:`run_migrations` sets it).
    Offline (``--sql``) renders the SQL with literal values. Online runs the
    scripts on one connection of an async engine from :func:`create_engine`
    (a SQLite file's directory is created, WAL and the busy timeout apply)
    with ``NullPool``, so no connection outlives the migration. SQLite's
    foreign-key enforcement stays off while migrating: a batch migration
    copies and drops tables, and with enforcement on that drop would cascade
    deletes into the rows that refer to them. SQLite gets batch mode for
    autogenerated ALTERs; autogenerate compares column types. On PostgreSQL the
    scripts run in one transaction holding the advisory lock of the version table
    (:func:`_lock_migrations`).
    """
    from alembic import context

    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL given to Alembic")
    options: dict[str, Any] = {"target_metadata": target_metadata, "compare_type": True}
    if version_table is not None:
        options["version_table"] = version_table
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
    else:
        _run_in_own_loop(_run_alembic_online(url, options))


def _run_in_own_loop(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` on a new event loop in this thread (migrations run in a worker thread).

    Not ``asyncio.run``: on closing, it lists every task of the process through
    ``asyncio.all_tasks``, whose shared weak set another thread's loop may be
    changing at that moment ("Set changed size during iteration" after its
    retries, seen with two services migrating in one process under load). The
    migration leaves no task of its own behind, so there is nothing to cancel.
    """
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(work)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


async def _run_alembic_online(url: str, options: dict[str, Any]) -> None:
    engine = create_engine(url, poolclass=NullPool, sqlite_foreign_keys=False)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_alembic_on, options)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_alembic_on(connection: Connection, options: dict[str, Any]) -> None:
    from alembic import context

    if connection.dialect.name == "postgresql":
        _lock_migrations(connection, options.get("version_table", "alembic_version"))
    context.configure(
        connection=connection, render_as_batch=connection.dialect.name == "sqlite", **options
    )
    with context.begin_transaction():
        context.run_migrations()


def _lock_migrations(connection: Connection, version_table: str) -> None:
    """Wait for, then hold until this transaction ends, the PostgreSQL advisory lock of
    ``version_table`` in this database (``pg_advisory_xact_lock`` on
    ``hashtextextended('alembic:<version_table>', 0)``, a bigint).

    Replicas of one service started at once would otherwise all find the schema
    empty and all run the same scripts: the later ones fail on duplicate keys
    (``alembic_version``, the catalogue). With the lock they run one after
    another; each reads the version only after the lock is granted (at READ
    COMMITTED, PostgreSQL's default, each statement sees what was committed before
    it began), so a later one finds the schema at head and does nothing. The lock is taken before
    Alembic is configured, so Alembic runs every script in this same transaction
    and the lock is released at its commit or rollback (PostgreSQL documentation,
    "Explicit Locking: Advisory Locks" and "System Administration Functions:
    Advisory Lock Functions"). Advisory locks are per database, so the services'
    databases of one cluster never wait for each other. SQLite needs none: one
    process migrates each embedded file.
    """
    connection.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"alembic:{version_table}"},
    )
