"""Chat waits shared through a database: a wait one replica met holds every replica.

Two replicas are two :class:`ChatWaits`, each with its own engine on one database
(SQLite file and PostgreSQL), as two processes of the notifier or publisher-telegram
have; the wait travels only through the table.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from cachalot_common.chat_waits import SqlChatWaits, chat_waits_table
from cachalot_common.db import create_engine, session_factory
from cachalot_common.telegram_api import BotApiError, ChatWaits, ResponseParameters


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/waits.db"
    url: str = request.getfixturevalue("postgres_database")
    return url


Replica = Callable[[], ChatWaits]


@pytest.fixture
async def replicas(database_url: str) -> AsyncIterator[tuple[Replica, Clock]]:
    """A maker of replicas (each its own engine) on one database, and their clock."""
    clock = Clock()
    metadata = MetaData()
    table = chat_waits_table(metadata)
    engines: list[AsyncEngine] = []

    def replica() -> ChatWaits:
        engines.append(create_engine(database_url))
        return ChatWaits(clock=clock, shared=SqlChatWaits(session_factory(engines[-1]), table))

    creator = create_engine(database_url)
    async with creator.begin() as connection:
        await connection.run_sync(metadata.create_all)
    await creator.dispose()
    yield replica, clock
    for engine in engines:
        await engine.dispose()


def too_many(retry_after: int) -> BotApiError:
    return BotApiError(
        "sendMessage",
        http_status=429,
        error_code=429,
        description="Too Many Requests: retry after",
        parameters=ResponseParameters(retry_after=retry_after),
    )


async def test_a_wait_one_replica_met_holds_the_other_replica_for_its_whole_length(
    replicas: tuple[Replica, Clock],
) -> None:
    replica, clock = replicas
    first, second = replica(), replica()
    with pytest.raises(BotApiError):
        async with first.guard("sendMessage", -100777):
            raise too_many(330)
    clock.now += 300
    with pytest.raises(BotApiError) as held:
        async with second.guard("sendPhoto", "-100777"):
            raise AssertionError("the second replica called a chat that still waits")
    assert held.value.held
    assert held.value.retry_after == 30
    await second.check("sendMessage", -100778)  # another chat goes on
    clock.now += 30
    await second.check("sendMessage", -100777)  # the wait is over, for both
    await first.check("sendMessage", -100777)


async def test_a_shorter_wait_learnt_later_never_shortens_a_recorded_one(
    replicas: tuple[Replica, Clock],
) -> None:
    replica, clock = replicas
    first, second = replica(), replica()
    await first.learn(42, too_many(100))
    await second.learn(42, too_many(10))  # met by a call made before it knew
    clock.now += 50
    fresh = replica()  # a replica started since
    with pytest.raises(BotApiError) as held:
        await fresh.check("sendMessage", 42)
    assert held.value.retry_after == 50
