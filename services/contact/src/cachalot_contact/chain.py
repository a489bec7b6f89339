"""The hash chain of the contact log: one canonical form, one check.

A line of the log is one JSON object followed by ``\\n``::

    {"event":{...},"hash":"<hex>","prev":"<hex>","seq":N,"v":1}

* ``seq``: the line number, from 1;
* ``prev``: the ``hash`` of the previous line (64 zeros on line 1);
* ``event``: the ``ContactSubmitted`` event as JSON (``model_dump(mode="json")``);
* ``hash``: SHA-256 (lowercase hex) of the *canonical serialisation* of the
  object without its ``hash`` key.

The canonical serialisation is ``json.dumps(obj, ensure_ascii=False,
sort_keys=True, separators=(",", ":"), allow_nan=False)`` encoded as UTF-8:
keys sorted at every level, no insignificant whitespace, non-ASCII written as
itself. Every line is written in exactly that form (with ``hash`` included),
so a reader can recompute each hash from the parsed line. Changing any byte
of a line breaks that line's hash; deleting or reordering lines breaks the
next ``prev`` and ``seq``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

VERSION = 1
GENESIS = "0" * 64


def canonical(obj: Any) -> bytes:
    """The one byte form that hashes are computed over."""
    return json.dumps(
        obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


@dataclass(frozen=True, slots=True)
class Link:
    """Where the chain ends: the last line's number and hash."""

    seq: int = 0
    hash: str = GENESIS


def make_line(event: dict[str, Any], after: Link) -> tuple[bytes, Link]:
    """The next line of the log (with its newline) and the new end of the chain.

    Equal to ``canonical({..., "hash": h})``, built from one serialisation of
    the event (the keys ``event < hash < prev < seq < v`` are already sorted).
    """
    seq = after.seq + 1
    head = b'{"event":' + canonical(event)
    tail = b'"prev":"%s","seq":%d,"v":%d}' % (after.hash.encode(), seq, VERSION)
    line_hash = hashlib.sha256(head + b"," + tail).hexdigest()
    line = head + b',"hash":"' + line_hash.encode() + b'",' + tail + b"\n"
    return line, Link(seq, line_hash)


class BrokenLine(ValueError):
    """A line that is not the one the chain expects, and why."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason


def check_line(raw: bytes, line: int, after: Link) -> tuple[dict[str, Any], Link]:
    """Parse and check one line (without its newline) against the chain so far."""
    try:
        record = json.loads(raw)
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise BrokenLine(line, f"not JSON ({error})") from None
    if not isinstance(record, dict) or set(record) != {"event", "hash", "prev", "seq", "v"}:
        raise BrokenLine(line, "not a log record (expected keys event, hash, prev, seq, v)")
    if record["v"] != VERSION:
        raise BrokenLine(line, f"unknown record version {record['v']!r}")
    if record["seq"] != line:
        raise BrokenLine(line, f"sequence number is {record['seq']!r}, expected {line}")
    if record["prev"] != after.hash:
        raise BrokenLine(
            line, f"prev is {record['prev']!r} but the previous record hashes to {after.hash!r}"
        )
    body = {k: v for k, v in record.items() if k != "hash"}
    expected = digest(body)
    if record["hash"] != expected:
        raise BrokenLine(line, f"content does not match its hash (recomputed {expected!r})")
    if canonical(record) != raw:
        raise BrokenLine(line, "not in canonical form (the line was rewritten)")
    return record, Link(line, expected)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking a whole log."""

    records: int
    end: Link
    broken: BrokenLine | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_lines(lines: Iterable[bytes]) -> Verdict:
    """Check every line (each ending in ``\\n``) in order; stop at the first broken one."""
    end = Link()
    count = 0
    for count, raw in enumerate(lines, start=1):
        if not raw.endswith(b"\n"):
            return Verdict(
                count - 1,
                end,
                BrokenLine(count, "incomplete final line without a newline (torn write)"),
            )
        try:
            _, end = check_line(raw[:-1], count, end)
        except BrokenLine as broken:
            return Verdict(count - 1, end, broken)
    return Verdict(count, end)
