"""The durable mark: how much of the log is on disk, for a relay in another process.

A reader of the log file sees bytes as soon as they are written, before
``fsync`` has made them durable; a relay that published what it saw could
tell the operator about a submission whose request never got its 202 (the
machine crashed before the fsync). So after every fsync the writer stores
the log's durable length in a small file beside it, ``<log>.durable``, and a
relay in another process publishes only up to that length.

The mark is one fixed-size record rewritten in place with ``pwrite``
(``"<offset, 20 digits> <crc32 of those digits, 8 hex>\\n"``): no fsync (it
is a hint for a *live* reader, and after a restart the writer marks again
what it finds durable), and a reader that catches a half-written record sees
the checksum fail and reads again, so it can never take a torn number for a
larger one.
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

RECORD_SIZE = 30
_RETRIES = 5


def mark_path(log_path: Path) -> Path:
    """Where the mark of ``log_path`` lives."""
    return log_path.with_name(log_path.name + ".durable")


def encode_mark(offset: int) -> bytes:
    digits = b"%020d" % offset
    return digits + b" %08x\n" % zlib.crc32(digits)


def decode_mark(record: bytes) -> int | None:
    """The offset in ``record``, or ``None`` if it is torn or not a mark."""
    if len(record) != RECORD_SIZE or record[20:21] != b" " or record[-1:] != b"\n":
        return None
    digits = record[:20]
    try:
        checksum = int(record[21:29], 16)
    except ValueError:
        return None
    if not digits.isdigit() or zlib.crc32(digits) != checksum:
        return None
    return int(digits)


class MarkWriter:
    """The log writer's side: one open file, one ``pwrite`` per mark."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)

    def write(self, offset: int) -> None:
        os.pwrite(self._fd, encode_mark(offset), 0)

    def close(self) -> None:
        os.close(self._fd)


class MarkReader:
    """The relay's side: the last durable offset the writer announced."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def read(self) -> int | None:
        """The current mark; ``None`` while there is none (no writer has marked yet)."""
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                return None
        for _ in range(_RETRIES):
            offset = decode_mark(os.pread(self._fd, RECORD_SIZE, 0))
            if offset is not None:
                return offset
        return None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
