"""The append-only contact log: fsynced before the 202, hash-chained, one writer.

Writes go through one writer task (group commit): every request hands its
event over and waits; the writer takes *all* events waiting at that moment,
chains them, writes them with one ``write`` and makes them durable with one
``fsync``, then wakes each request. Under load one fsync carries many
submissions; alone, a submission costs one fsync. Nobody else writes the
file, so lines never interleave and the chain never forks.

Crash policy (checked when the log is opened):

* a final line without its ``\\n`` is a torn write: a crash came in the middle
  of it, so its request never got a 202. Its bytes are appended to
  ``<log>.torn`` (fsynced), the log is truncated to the last complete line
  (fsynced), and a warning is logged. It is never merged with what follows.
* a complete last line that is not a valid record stops the service with a
  message naming the line: a person must look (``python -m cachalot_contact
  verify``), the service does not guess.

After every fsync (and at open) the writer stores the durable length in the
mark file beside the log (:mod:`cachalot_contact.mark`), so a relay in another
process publishes only what is on disk.

If ``write`` or ``fsync`` fails, the log stops taking appends until the
process restarts (after a failed fsync the kernel may have dropped the dirty
pages, so retrying could report data as durable that is not); the requests
answer 503 and readiness fails.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cachalot_contact.chain import BrokenLine, Link, check_line, make_line
from cachalot_contact.mark import MarkWriter, mark_path
from cachalot_contact.tail import is_line_start, read_lines

logger = logging.getLogger(__name__)

_TAIL_CHUNK = 64 * 1024


class LogUnavailable(RuntimeError):
    """The log cannot take appends (closed, or a write/fsync failed)."""


class LogCorrupt(RuntimeError):
    """The log's last complete line is not a valid record: a person must look."""


@dataclass
class _Pending:
    event: dict[str, Any]
    done: asyncio.Future[int] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _fail(batch: list[_Pending], reason: str) -> None:
    for item in batch:
        if not item.done.done():  # a request that went away has a cancelled future
            item.done.set_exception(LogUnavailable(reason))


def fsync_directory(directory: Path) -> None:
    """Make a created or renamed directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_line(path: Path, size: int) -> tuple[bytes, int]:
    """The last complete line (without ``\\n``) of a file ending in ``\\n``, and its line start."""
    with path.open("rb") as file:
        end = size - 1  # the final newline
        position = end
        tail = b""
        while position > 0:
            start = max(0, position - _TAIL_CHUNK)
            file.seek(start)
            tail = file.read(position - start) + tail
            position = start
            cut = tail.rfind(b"\n")
            if cut != -1:
                return tail[cut + 1 :], position + cut + 1
        return tail, 0


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def recover_torn_tail(path: Path) -> int:
    """Move a torn final line aside to ``<log>.torn``; returns how many bytes moved."""
    size = path.stat().st_size
    if size == 0:
        return 0
    with path.open("rb+") as file:
        file.seek(size - 1)
        if file.read(1) == b"\n":
            return 0
        # find the end of the last complete line
        position, keep = size, 0
        while position > 0:
            start = max(0, position - _TAIL_CHUNK)
            file.seek(start)
            chunk = file.read(position - start)
            cut = chunk.rfind(b"\n")
            if cut != -1:
                keep = start + cut + 1
                break
            position = start
        file.seek(keep)
        torn = file.read()
        torn_path = path.with_name(path.name + ".torn")
        with torn_path.open("ab") as aside:
            aside.write(torn + b"\n")
            aside.flush()
            os.fsync(aside.fileno())
        file.truncate(keep)
        file.flush()
        os.fsync(file.fileno())
    logger.warning(
        "contact log %s ended in a torn line (%d bytes, never acknowledged): moved to %s",
        path,
        len(torn),
        torn_path,
    )
    return len(torn)


class ContactLog:
    """The log file and its single writer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._mark: MarkWriter | None = None
        self._end = Link()
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._grown = asyncio.Condition()
        self._writer: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._closing = False
        self.durable_offset = 0

    # --- life cycle -------------------------------------------------------------------

    async def open(self) -> None:
        """Recover a torn tail, find the end of the chain, start the writer."""
        await asyncio.to_thread(self._open_file)
        self._writer = asyncio.create_task(self._write_loop(), name="contact-log-writer")

    def _open_file(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        if created:
            os.fsync(fd)
            fsync_directory(self.path.parent)
        recover_torn_tail(self.path)
        # what a crashed writer wrote but never fsynced is made durable now, before it is marked
        try:
            os.fsync(fd)
        except OSError as error:
            if error.errno != errno.EINVAL:  # EINVAL: a special file; appends will say so
                os.close(fd)
                raise
        size = os.fstat(fd).st_size
        if size:
            raw, _ = _last_line(self.path, size)
            line = _count_lines(self.path)
            try:
                record = json.loads(raw)
                seq = record["seq"]
                _, self._end = check_line(raw, seq, Link(seq - 1, record["prev"]))
            except (ValueError, KeyError, TypeError, BrokenLine) as error:
                os.close(fd)
                raise LogCorrupt(
                    f"{self.path} line {line}: the last record is not valid ({error}); "
                    "run `python -m cachalot_contact verify` and repair the log by hand"
                ) from None
            if seq != line:
                os.close(fd)
                raise LogCorrupt(
                    f"{self.path} line {line}: its sequence number is {seq}; "
                    "run `python -m cachalot_contact verify`"
                )
        self._fd = fd
        self.durable_offset = size
        self._mark = MarkWriter(mark_path(self.path))
        self._mark.write(size)

    async def close(self) -> None:
        """Finish the appends already handed over, then close the file."""
        self._closing = True
        self._wake.set()
        if self._writer is not None:
            await self._writer
            self._writer = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._mark is not None:
            self._mark.close()
            self._mark = None

    # --- appending --------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        return self._fd is not None and self._failure is None and not self._closing

    async def append(self, event: dict[str, Any]) -> int:
        """Append one event; returns its line number once it is on disk (fsynced)."""
        if not self.writable:
            raise LogUnavailable("the contact log is not taking appends")
        pending = _Pending(event)
        self._pending.append(pending)
        self._wake.set()
        return await pending.done

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                await self._commit(batch)
            if self._closing and not self._pending:
                return

    async def _commit(self, batch: list[_Pending]) -> None:
        if self._failure is not None:
            _fail(batch, "the contact log failed earlier")
            return
        lines: list[bytes] = []
        end = self._end
        for item in batch:
            line, end = make_line(item.event, end)
            lines.append(line)
        data = b"".join(lines)
        try:
            await asyncio.to_thread(self._write_durably, data, self.durable_offset + len(data))
        except OSError as error:
            self._failure = error
            logger.error("contact log write failed; refusing appends until restart: %s", error)
            _fail(batch, "the contact log could not be written")
            return
        first = self._end.seq + 1
        self._end = end
        self.durable_offset += len(data)
        for offset, item in enumerate(batch):
            if not item.done.done():
                item.done.set_result(first + offset)
        async with self._grown:
            self._grown.notify_all()

    def _write_durably(self, data: bytes, end: int) -> None:
        assert self._fd is not None
        assert self._mark is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)
        self._mark.write(end)

    # --- reading (the relay) ----------------------------------------------------------

    async def wait_beyond(self, offset: int) -> None:
        """Return once durable data exists past ``offset``."""
        async with self._grown:
            await self._grown.wait_for(lambda: self.durable_offset > offset)

    def read_durable(self, offset: int, limit: int = 1 << 20) -> bytes:
        """Complete, durable lines from ``offset`` (at most about ``limit`` bytes)."""
        return read_lines(self.path, offset, self.durable_offset, limit)

    def is_line_start(self, offset: int) -> bool:
        """Whether ``offset`` is the start of a line within the durable log."""
        return is_line_start(self.path, offset, self.durable_offset)
