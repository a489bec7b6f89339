"""The fixtures give real servers: a broker that round-trips and a database that answers."""

from __future__ import annotations

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


async def test_broker_round_trips_a_message(kafka_bootstrap: str, kafka_idempotence: bool) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=kafka_idempotence
    )
    await producer.start()
    try:
        await producer.send_and_wait("fixture.check.v1", b"ping", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        "fixture.check.v1",
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        values = [m.value for records in batch.values() for m in records]
    finally:
        await consumer.stop()
    assert values == [b"ping"]


async def test_each_test_gets_its_own_empty_database(postgres_database: str) -> None:
    dsn = postgres_database.replace("postgresql+asyncpg", "postgresql")
    connection = await asyncpg.connect(dsn)
    try:
        tables = await connection.fetchval(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        )
        assert tables == 0
        assert await connection.fetchval("select 1") == 1
    finally:
        await connection.close()
