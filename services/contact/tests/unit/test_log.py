"""The log file: durable appends, one unbroken chain under concurrency, crash recovery."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cachalot_contact.chain import verify_lines
from cachalot_contact.log import ContactLog, LogCorrupt, LogUnavailable
from cachalot_contact.verify import verify_file


async def opened(path: Path) -> ContactLog:
    log = ContactLog(path)
    await log.open()
    return log


async def test_an_append_is_on_disk_when_it_returns(tmp_path: Path):
    path = tmp_path / "c.log"
    log = await opened(path)
    seq = await log.append({"n": 1})
    assert seq == 1
    assert path.read_bytes().count(b"\n") == 1
    assert log.durable_offset == path.stat().st_size
    await log.close()


async def test_concurrent_appends_never_interleave_or_fork_the_chain(tmp_path: Path):
    path = tmp_path / "c.log"
    log = await opened(path)
    seqs = await asyncio.gather(*(log.append({"n": n, "pad": "x" * n}) for n in range(300)))
    await log.close()
    assert sorted(seqs) == list(range(1, 301))
    verdict = verify_file(path)
    assert verdict.ok
    assert verdict.records == 300


async def test_reopening_continues_the_chain(tmp_path: Path):
    path = tmp_path / "c.log"
    log = await opened(path)
    await log.append({"n": 1})
    await log.close()
    log = await opened(path)
    assert await log.append({"n": 2}) == 2
    await log.close()
    assert verify_file(path).records == 2


async def test_a_torn_final_line_is_moved_aside_and_never_merged(tmp_path: Path):
    path = tmp_path / "c.log"
    log = await opened(path)
    await log.append({"n": 1})
    await log.close()
    intact = path.read_bytes()
    with path.open("ab") as file:
        file.write(b'{"event":{"n":2},"hash":"ab')  # the crash came mid-write
    log = await opened(path)
    assert path.read_bytes() == intact
    assert (tmp_path / "c.log.torn").read_bytes() == b'{"event":{"n":2},"hash":"ab\n'
    assert await log.append({"n": 3}) == 2
    await log.close()
    assert verify_file(path).ok


async def test_a_torn_only_line_leaves_an_empty_log(tmp_path: Path):
    path = tmp_path / "c.log"
    path.write_bytes(b'{"event":')
    log = await opened(path)
    assert path.read_bytes() == b""
    assert await log.append({"n": 1}) == 1
    await log.close()


async def test_a_corrupt_complete_last_line_stops_the_start_naming_it(tmp_path: Path):
    path = tmp_path / "c.log"
    log = await opened(path)
    await log.append({"n": 1})
    await log.append({"n": 2})
    await log.close()
    path.write_bytes(path.read_bytes().replace(b'"n":2', b'"n":9'))
    with pytest.raises(LogCorrupt, match="line 2"):
        await opened(path)


async def test_a_closed_log_refuses_appends(tmp_path: Path):
    log = await opened(tmp_path / "c.log")
    await log.close()
    with pytest.raises(LogUnavailable):
        await log.append({"n": 1})


async def test_the_relay_reads_only_whole_durable_lines(tmp_path: Path):
    path = tmp_path / "c.log"
    log = await opened(path)
    for n in range(5):
        await log.append({"n": n, "pad": "y" * 100})
    data = log.read_durable(0, limit=250)
    assert data.endswith(b"\n")
    assert verify_lines([data.splitlines(keepends=True)[0]]).ok
    assert log.is_line_start(len(data))
    assert not log.is_line_start(len(data) - 3)
    await log.close()


async def test_a_failed_write_refuses_every_later_append(tmp_path: Path):
    path = tmp_path / "c.log"
    path.symlink_to("/dev/full")  # every write fails with ENOSPC, like a full disk
    log = await opened(path)
    with pytest.raises(LogUnavailable):
        await log.append({"n": 1})
    assert not log.writable
    with pytest.raises(LogUnavailable):
        await log.append({"n": 2})
    await log.close()
