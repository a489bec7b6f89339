"""How far the relay has published, kept in a small file replaced atomically.

The file holds ``{"offset": <byte offset of the next line>, "seq": <last
published line>}``. It is written to a temporary file, fsynced, renamed over
the old one and the directory fsynced, so after a crash it is either the old
cursor or the new one, never half of each. A cursor that is missing,
unreadable or does not point at a line start makes the relay begin again at
the start of the log: events are published at least once and the notifier
dedupes by event id, so starting over only costs duplicates.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cachalot_contact.log import fsync_directory

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cursor:
    offset: int = 0
    seq: int = 0


class CursorFile:
    """Load and atomically save the relay's cursor."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Cursor:
        try:
            data = json.loads(self.path.read_bytes())
            cursor = Cursor(offset=int(data["offset"]), seq=int(data["seq"]))
        except FileNotFoundError:
            return Cursor()
        except (ValueError, KeyError, TypeError) as error:
            logger.warning(
                "relay cursor %s unreadable (%s): starting from the top", self.path, error
            )
            return Cursor()
        if cursor.offset < 0 or cursor.seq < 0:
            return Cursor()
        return cursor

    def save(self, cursor: Cursor) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        payload = json.dumps({"offset": cursor.offset, "seq": cursor.seq}).encode()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        fsync_directory(self.path.parent)
