"""Reading the durable part of the log: for the relay, in the writer's process or its own.

:func:`read_lines` and :func:`is_line_start` work on any log given how much
of it is durable. :class:`LogTail` is the view of a relay running in a
process of its own (``python -m cachalot_contact relay``): it learns the
durable length from the writer's mark (:mod:`cachalot_contact.mark`) by
polling it, every ``min_poll`` seconds while submissions flow and backing off
to ``max_poll`` when the log is quiet, so an idle relay costs next to nothing
and a busy one publishes within a few milliseconds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from cachalot_contact.mark import MarkReader, mark_path


def read_lines(path: Path, offset: int, end: int, limit: int = 1 << 20) -> bytes:
    """Complete lines of ``path`` from ``offset`` up to ``end`` (at most about ``limit`` bytes)."""
    if offset >= end:
        return b""
    with path.open("rb") as file:
        file.seek(offset)
        data = file.read(min(end - offset, limit))
        if len(data) < end - offset:
            cut = data.rfind(b"\n")
            if cut == -1:  # one line longer than limit: read it whole
                file.seek(offset)
                data = file.read(end - offset)
                cut = data.find(b"\n")
            data = data[: cut + 1]
    return data


def is_line_start(path: Path, offset: int, end: int) -> bool:
    """Whether ``offset`` starts a line within the first ``end`` bytes of ``path``."""
    if offset == 0:
        return True
    if offset > end:
        return False
    with path.open("rb") as file:
        file.seek(offset - 1)
        return file.read(1) == b"\n"


class LogTail:
    """The durable part of a log that another process writes."""

    def __init__(self, path: Path, *, min_poll: float = 0.002, max_poll: float = 0.05) -> None:
        self.path = path
        self.min_poll = min_poll
        self.max_poll = max_poll
        self._mark = MarkReader(mark_path(path))
        self._durable = 0

    @property
    def durable_offset(self) -> int:
        """How much of the log is durable, as the writer last marked it."""
        return self.refresh()

    def refresh(self) -> int:
        """Read the writer's mark again; the durable length never goes backwards here."""
        offset = self._mark.read()
        if offset is not None and offset > self._durable:
            self._durable = offset
        return self._durable

    def marked(self) -> bool:
        """Whether the writer has marked the log yet (it does when it opens it)."""
        return self._mark.read() is not None

    async def wait_beyond(self, offset: int) -> None:
        """Return once durable data exists past ``offset``."""
        pause = self.min_poll
        while self.refresh() <= offset:
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_poll)

    def read_durable(self, offset: int, limit: int = 1 << 20) -> bytes:
        return read_lines(self.path, offset, self._durable, limit)

    def is_line_start(self, offset: int) -> bool:
        return is_line_start(self.path, offset, self.refresh())

    def close(self) -> None:
        self._mark.close()
