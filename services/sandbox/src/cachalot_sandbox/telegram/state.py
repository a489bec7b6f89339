"""What the fake Telegram remembers: messages, faults, call counts, channels.

One process-wide instance; ``reset()`` forgets everything between tests.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cachalot_sandbox.telegram.chats import CHANNEL_ID_MAX, Channel
from cachalot_sandbox.telegram.media import FileStore, StoredFile

POSTING_METHODS = frozenset({"sendmessage", "sendphoto", "sendvideo", "sendmediagroup"})
"""A fault that names no method answers the next of these calls (lower case)."""


class Fault(BaseModel):
    """One canned answer for the next posting call (``sendMessage``, ``sendPhoto``,
    ``sendVideo``, ``sendMediaGroup``; only ``method`` when given)."""

    model_config = ConfigDict(extra="forbid")

    status: int = Field(ge=400, le=599, description="HTTP status to answer with.")
    retry_after: int | None = Field(
        default=None, ge=0, description="For 429: parameters.retry_after (seconds)."
    )
    hold_s: float | None = Field(
        default=None,
        ge=0,
        le=3600,
        description="For 429 on a posting call: how long (real seconds) the chat then stays "
        "under the wait, as Telegram holds it: every posting call to it meanwhile is answered "
        "429 with what is left, and each such call makes the wait one Telegram second longer. "
        "Default: retry_after (Telegram's own time); a test that shortens its client's waits "
        "(a retry_after scale) gives the shortened time; 0: this answer only.",
    )
    migrate_to_chat_id: int | None = Field(
        default=None,
        description="parameters.migrate_to_chat_id (Telegram sends it with a 400 when the "
        "group was upgraded to a supergroup).",
    )
    description: str | None = Field(default=None, description="Override the description.")
    retry_after_header: str | None = Field(
        default=None,
        max_length=64,
        description="A Retry-After header sent with the answer (RFC 9110 §10.2.3: seconds or "
        "an HTTP-date), as a proxy or Telegram's front may send with a 429 or a 503.",
    )
    delay_s: float = Field(
        default=0.0, ge=0, le=60, description="Wait this long before answering (timeouts)."
    )
    method: str | None = Field(
        default=None,
        max_length=64,
        description="Only this method's next call (e.g. sendVideo, getChat; case-insensitive); "
        "none: the next posting call, whichever it is.",
    )
    body: Literal["json", "html"] | None = Field(
        default=None,
        description="json = Bot API error object; html = a proxy's error page "
        "(default: html for 502/503/504, json otherwise).",
    )


class FaultQueue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    responses: list[Fault] = Field(min_length=1)


class ChatMigrationControl(BaseModel):
    """A group upgraded to a supergroup: sends to the old id answer 400 with its new id."""

    model_config = ConfigDict(extra="forbid")

    migrate_to_chat_id: int = Field(le=CHANNEL_ID_MAX, description="The supergroup's id (-100…).")
    title: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="The chat's title after the move (a set-up chat only; default: unchanged).",
    )


class Latency(BaseModel):
    """Every sendMessage answer waits this long (slow but successful answers)."""

    model_config = ConfigDict(extra="forbid")

    send_delay_s: float = Field(default=0.0, ge=0, le=60)


class FloodControl(BaseModel):
    """Per-chat flood control like Telegram's (off unless a test turns it on)."""

    model_config = ConfigDict(extra="forbid")

    per_chat_per_second: float = Field(
        default=1.0, gt=0, le=1000, description="Sustained messages per second to one chat."
    )
    burst: int = Field(default=3, ge=1, le=1000, description="Messages allowed in a burst.")


@dataclass
class _Bucket:
    tokens: float
    updated: float
    told_until: float = 0.0
    """When the wait of the last 429 given to this chat ends."""


@dataclass
class FloodGate:
    """A token bucket per chat; ``admit`` answers the seconds to wait (0 = go).

    A call made before the wait of this chat's last 429 has passed ignores
    it: like Telegram, the gate refuses it and makes the wait longer (the
    call still takes a token, so the bucket goes below zero).
    """

    control: FloodControl
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def admit(self, chat_key: str, now: float) -> tuple[float, bool]:
        """(seconds to wait, 0 = go; whether the call ignored a wait already given)."""
        rate, burst = self.control.per_chat_per_second, float(self.control.burst)
        bucket = self.buckets.setdefault(chat_key, _Bucket(burst, now))
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        ignored = now < bucket.told_until
        if ignored:
            bucket.tokens -= 1.0
        elif bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0, False
        wait = (1.0 - bucket.tokens) / rate
        bucket.told_until = now + wait
        return wait, ignored


@dataclass
class ChatBan:
    """A chat a 429 told to wait (a queued fault's ``hold_s``): refused until ``until``.

    ``until`` is ``time.monotonic()`` seconds; ``second`` is one Telegram second in
    real seconds (``hold_s / retry_after``), what an ignored call adds.
    """

    until: float
    second: float
    ignored: int = 0

    def refuse(self, now: float) -> int | None:
        """A call at ``now``: None when the ban is over, else the whole Telegram seconds
        left to tell it (the ban is made one Telegram second longer)."""
        if now >= self.until:
            return None
        self.ignored += 1
        self.until += self.second
        left = (self.until - now) / self.second if self.second > 0 else 1.0
        return max(1, math.ceil(left - 1e-9))


class AnswerDelay(BaseModel):
    """Post, then hold the answer back (a client that dies meanwhile never learns of it)."""

    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(gt=0, le=600)
    count: int = Field(default=1, ge=1, le=1000, description="For the next this many posts.")


@dataclass(frozen=True)
class SentMessage:
    message_id: int
    chat: dict[str, Any]
    requested_chat: str
    date: int
    text: str
    raw_text: str
    parse_mode: str | None
    entities: list[dict[str, Any]]
    received_at: float
    kind: str = "text"  # text | photo | video
    files: tuple[StoredFile, ...] = ()
    media_group_id: str | None = None
    method: str = "sendMessage"
    options: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": self.method,
            "files": [f.public() for f in self.files],
            "media_group_id": self.media_group_id,
            "options": self.options,
            "message_id": self.message_id,
            "chat_id": self.chat["id"],
            "chat": self.chat,
            "date": self.date,
            "text": self.text,
            "raw_text": self.raw_text,
            "parse_mode": self.parse_mode,
            "entities": self.entities,
            "received_at": self.received_at,
        }


@dataclass
class TelegramState:
    messages: list[SentMessage] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    calls: Counter[str] = field(default_factory=Counter)
    flood: FloodGate | None = None
    bans: dict[str, ChatBan] = field(default_factory=dict)
    """Chats under a queued 429's wait (its ``hold_s``), by chat id."""
    ignored_waits: Counter[str] = field(default_factory=Counter)
    """Posting calls per chat made while the chat owed a wait (bans and flood control)."""
    channels: dict[int, Channel] = field(default_factory=dict)
    migrated: dict[str, int] = field(default_factory=dict)
    """Group chat id → the supergroup it became."""
    blocked: set[str] = field(default_factory=set)
    """Chats whose user blocked the bot (403 on every send)."""
    send_delay_s: float = 0.0
    files: FileStore = field(default_factory=FileStore)
    delays: list[float] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_message_id(self) -> int:
        return next(self._ids)

    def record(self, message: SentMessage) -> None:
        self.messages.append(message)

    def next_fault(self, method: str = "sendMessage") -> Fault | None:
        """The first queued fault for ``method`` (or for any posting method), taken."""
        posting = method.lower() in POSTING_METHODS
        for fault in self.faults:
            if (fault.method is None and posting) or (
                fault.method is not None and fault.method.lower() == method.lower()
            ):
                self.faults.remove(fault)
                return fault
        return None

    def next_delay(self) -> float:
        return self.delays.pop(0) if self.delays else 0.0

    def reset(self) -> None:
        self.messages.clear()
        self.faults.clear()
        self.calls.clear()
        self.flood = None
        self.bans.clear()
        self.ignored_waits.clear()
        self.channels.clear()
        self.migrated.clear()
        self.blocked.clear()
        self.send_delay_s = 0.0
        self.files.reset()
        self.delays.clear()
        self._ids = itertools.count(1)


state = TelegramState()


def now() -> float:
    return time.time()
