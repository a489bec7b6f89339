"""The relay: everything durable is published at least once, and its place survives restarts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from cachalot_common.outbox import OutboxRelay
from cachalot_contact.cursor import Cursor, CursorFile
from cachalot_contact.log import ContactLog
from cachalot_contact.relay import LogSource, log_relay
from cachalot_contact.relay_process import STALE_S, answering


def event(n: int) -> dict[str, object]:
    return {
        "event_id": f"00000000-0000-4000-8000-{n:012d}",
        "occurred_at": "2026-01-01T00:00:00Z",
        "type": "contact.submitted",
        "name": f"n{n}",
        "contact": "@someone",
        "contact_kind": "telegram",
        "category": "other",
        "message": "hi",
        "ip": "127.0.0.1",
        "user_agent": None,
    }


@contextlib.asynccontextmanager
async def running(tmp_path: Path, publisher: object) -> AsyncIterator[tuple[ContactLog, LogSource]]:
    """The contact log under the shared relay (``cachalot_common.outbox``), stopped as the
    service stops it."""
    log = ContactLog(tmp_path / "c.log")
    await log.open()
    source = LogSource(log, CursorFile(tmp_path / "relay.cursor"))
    relay: OutboxRelay = log_relay(source, publisher, max_backoff_s=0.05, first_backoff_s=0.01)  # type: ignore[arg-type]
    task = asyncio.create_task(relay.run())
    try:
        yield log, source
    finally:
        await relay.stop(task, 0.2)
        await log.close()


async def wait_until_caught_up(log: ContactLog, source: LogSource) -> None:
    async with asyncio.timeout(5):
        while source.cursor.offset < log.durable_offset:
            await asyncio.sleep(0.005)


async def test_appended_records_are_published_with_their_event_ids(tmp_path: Path, publisher):
    async with running(tmp_path, publisher) as (log, relay):
        for n in range(3):
            await log.append(event(n))
        await publisher.wait_for(3)
        await wait_until_caught_up(log, relay)
    assert [str(e.event_id)[-1] for e in publisher.events] == ["0", "1", "2"]
    saved = CursorFile(tmp_path / "relay.cursor").load()
    assert saved == Cursor(offset=(tmp_path / "c.log").stat().st_size, seq=3)


async def test_a_restart_publishes_only_what_was_missed(tmp_path: Path, failing_publisher):
    first = failing_publisher(0)
    async with running(tmp_path, first) as (log, relay):
        await log.append(event(1))
        await wait_until_caught_up(log, relay)
    # appended while no relay ran (the process died before publishing)
    log = ContactLog(tmp_path / "c.log")
    await log.open()
    await log.append(event(2))
    await log.close()
    second = failing_publisher(0)
    async with running(tmp_path, second) as (log, relay):
        await second.wait_for(1)
        await wait_until_caught_up(log, relay)
    assert [e.name for e in first.events] == ["n1"]
    assert [e.name for e in second.events] == ["n2"]


async def test_a_broker_outage_is_retried_without_losing_the_place(
    tmp_path: Path, failing_publisher
):
    flaky = failing_publisher(4)
    async with running(tmp_path, flaky) as (log, relay):
        await log.append(event(1))
        await log.append(event(2))
        await flaky.wait_for(2)
        await wait_until_caught_up(log, relay)
    # at least once: a batch's sends run together, so one acknowledged beside a failed one
    # goes again with its batch (the notifier drops it by event_id); none is lost
    assert {e.name for e in flaky.events} == {"n1", "n2"}
    assert flaky.attempts >= 6


async def test_the_cursor_stays_put_while_the_broker_is_down(tmp_path: Path, failing_publisher):
    down = failing_publisher(10**9)
    async with running(tmp_path, down) as (log, relay):
        await log.append(event(1))
        async with asyncio.timeout(5):
            while down.attempts < 3:
                await asyncio.sleep(0.01)
        assert relay.cursor == Cursor()
    assert CursorFile(tmp_path / "relay.cursor").load() == Cursor()


async def test_a_cursor_that_is_not_a_line_start_republishes_from_the_top(
    tmp_path: Path, publisher
):
    log = ContactLog(tmp_path / "c.log")
    await log.open()
    await log.append(event(1))
    await log.close()
    CursorFile(tmp_path / "relay.cursor").save(Cursor(offset=7, seq=1))
    async with running(tmp_path, publisher) as (log, relay):
        await publisher.wait_for(1)
        await wait_until_caught_up(log, relay)
    assert [e.name for e in publisher.events] == ["n1"]


async def test_the_cursor_file_is_replaced_whole(tmp_path: Path):
    cursor_file = CursorFile(tmp_path / "relay.cursor")
    assert cursor_file.load() == Cursor()
    cursor_file.save(Cursor(offset=10, seq=2))
    assert cursor_file.load() == Cursor(offset=10, seq=2)
    assert not (tmp_path / "relay.cursor.tmp").exists()
    (tmp_path / "relay.cursor").write_text("{half")
    assert cursor_file.load() == Cursor()


def test_readiness_counts_the_relays_last_answer_from_the_broker_not_its_last_probe() -> None:
    """One slow metadata answer under load made ``/readyz`` say ``relay: failing`` while the
    relay was publishing (a clean-clone CI failure); a broker silent for longer still counts."""
    now = 1_000_000.0
    slow_probe = {"ok": False, "answered_at": now - 1.0, "cursor": 10, "at": now - 0.5}
    assert answering(slow_probe, now=now)
    gone = {"ok": False, "answered_at": now - STALE_S - 1, "cursor": 10, "at": now - 0.5}
    assert not answering(gone, now=now)
    never = {"ok": False, "answered_at": None, "cursor": 0, "at": now}
    assert not answering(never, now=now)
    relay_stopped_writing = {"ok": True, "answered_at": now - 6, "cursor": 10, "at": now - 6}
    assert not answering(relay_stopped_writing, now=now)
