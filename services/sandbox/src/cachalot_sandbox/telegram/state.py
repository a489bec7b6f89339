"""What the fake Telegram remembers: messages, faults, call counts, channels.

One process-wide instance; ``reset()`` forgets everything between tests.
"""

from __future__ import annotations

import itertools
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
    migrate_to_chat_id: int | None = Field(
        default=None,
        description="parameters.migrate_to_chat_id (Telegram sends it with a 400 when the "
        "group was upgraded to a supergroup).",
    )
    description: str | None = Field(default=None, description="Override the description.")
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


@dataclass
class FloodGate:
    """A token bucket per chat; ``admit`` answers the seconds to wait (0 = go)."""

    control: FloodControl
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def admit(self, chat_key: str, now: float) -> float:
        rate, burst = self.control.per_chat_per_second, float(self.control.burst)
        bucket = self.buckets.setdefault(chat_key, _Bucket(burst, now))
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate


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
