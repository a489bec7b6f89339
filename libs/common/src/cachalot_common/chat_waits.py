"""Telegram chat waits kept in a service's database, so every replica of the service keeps them.

A 429's ``retry_after`` belongs to the chat (:class:`cachalot_common.telegram_api.ChatWaits`),
and a call to that chat during the wait is refused again with the wait made longer
(core.telegram.org/bots/faq). A wait held in one process's memory leaves a second
replica free to make that call, so each replica also writes the wait here and reads it
before a call: one row per chat, ``until_s`` in epoch seconds, only ever made later.

A service that uses it creates the table in one of its own migrations::

    from cachalot_common.chat_waits import CHAT_WAITS_TABLE, chat_wait_columns
    op.create_table(CHAT_WAITS_TABLE, *chat_wait_columns())

and gives its models' metadata the same table (:func:`chat_waits_table`). Used by the
notifier and publisher-telegram; works on SQLite and PostgreSQL. The replicas' clocks are
compared through epoch seconds, so they are assumed to be in step (NTP) to well under a
second; a wait ends that much early or late at worst.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, MetaData, String, Table, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import transaction

CHAT_WAITS_TABLE = "telegram_chat_waits"


def chat_wait_columns() -> list[Column[object]]:
    """The table's columns (new objects on each call): ``chat_id`` (the chat as
    ``str(chat_id)``, primary key) and ``until_s`` (epoch seconds, the wait's end)."""
    return [
        Column("chat_id", String(64), primary_key=True),
        Column("until_s", Float, nullable=False),
    ]


def chat_waits_table(metadata: MetaData) -> Table:
    """The table in ``metadata`` (a service's models), as its migration creates it."""
    return Table(CHAT_WAITS_TABLE, metadata, *chat_wait_columns())


class SqlChatWaits:
    """:class:`~cachalot_common.telegram_api.SharedChatWaits` in a database table.

    ``sessions`` reach the service's database; ``table`` is :func:`chat_waits_table`'s.
    Database errors propagate (the caller decides whether to call Telegram then).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], table: Table) -> None:
        self._sessions = sessions
        self._table = table

    async def until(self, chat: str) -> float | None:
        """When ``chat``'s last recorded wait ends (epoch seconds), or None if it never had one."""
        async with self._sessions() as session:
            value = await session.scalar(
                select(self._table.c.until_s).where(self._table.c.chat_id == chat)
            )
        return float(value) if value is not None else None

    async def hold(self, chat: str, until: float) -> None:
        """``chat`` waits until ``until`` (epoch seconds); a later recorded end is kept."""
        table = self._table
        async with transaction(self._sessions) as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(table).values(chat_id=chat, until_s=until)
            later = case(
                (table.c.until_s < statement.excluded.until_s, statement.excluded.until_s),
                else_=table.c.until_s,
            )
            await session.execute(
                statement.on_conflict_do_update(index_elements=["chat_id"], set_={"until_s": later})
            )
