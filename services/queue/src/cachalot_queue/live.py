"""The dashboard's live feed: ``GET /api/v1/events``, Server-Sent Events per signed-in client.

Fed from ``posts.status.v1`` (a target's status, and publishing progress) and
``accounts.v1`` (an account connected, needing a reconnect, revoked), DESIGN.md
"Server push".

**Every replica reads every event, with no consumer group.** The gateway may
send a client's stream to any replica, so each replica must see all events of
all clients. A consumer group per replica would do it too, but leaves a group
behind on the broker for every replica that ever ran (and each start waits for
a group join, seconds on Tansu) to keep offsets nobody needs: the feed is a
broadcast held in memory, like the session revocations
(:mod:`cachalot_queue.revocations`). So :class:`LiveFeed` assigns itself every
partition of both topics (``group_id=None``), starts a little before their end
(:attr:`LiveFeed.backfill_per_partition` records, so a replica that just
started can still resume a stream another replica was serving) and keeps the
last :attr:`LiveFeed.buffer_events` records in a ring.

A browser resends the last id by itself when it reconnects; a page that had to
open a new ``EventSource`` (the browser gives up after an answer other than 200,
such as the gateway's 503 while the queue restarts) passes it as ``?resume=``.

**Event ids are Kafka positions.** An event's ``id`` is the vector of "next
offset" per partition of the two topics up to which the stream has delivered
everything for its client, e.g. ``s0.120-s1.98-s2.7-s3.55-a0.4-a1.0-a2.9-a3.2``
(``s`` posts.status.v1, ``a`` accounts.v1). Offsets are the broker's, the same
on every replica, so the browser's ``Last-Event-ID`` can be resumed anywhere:
the replica replays, from its ring, the client's records past that vector
(nothing missed, nothing delivered twice), then goes on live. Heartbeats
carry the id too (an ``id:`` line with no data updates the browser's
``lastEventId`` without firing an event), so a quiet stream's resume point
stays current and a resume replays only what was really missed.

**A gap too old to replay** (the ring no longer holds a partition's records
from that offset, a partition the id does not name, a malformed id, or an
offset past the log's end because the broker lost its topics) is said with the
first event, ``ready`` with ``{"resumed": false}``: the page reloads its lists.
A broker that loses its log under open streams (offsets start again lower) makes
each of them send ``ready`` ``{"resumed": false}`` again and follow on from the
new offsets.
A first connection gets the same ``ready``; a complete resume gets
``{"resumed": true}`` followed by the replayed events.

**The session is checked for the stream's whole life**: every second and before
every event, against the same revocation list as every request
(:class:`~cachalot_common.sessions.SessionVerifier`, fed by ``sessions.v1``), so
a logout, an erasure or an expiry ends the stream within about a second with an
``ended`` event, and the browser's reconnect then gets a 401.

Events sent (``event:`` name → ``data`` JSON):

* ``ready``: ``{"resumed": bool}``;
* ``status``: ``{post_id, target_id, account_id, platform, status, previous,
  reason, code, remote_url, bytes_sent, bytes_total, percent, occurred_at}``;
  ``percent`` (0–100, integer) while publishing with a known size, else null;
* ``account``: ``{account_id, platform, status, display_name, reason,
  occurred_at}`` (``status`` is the ``accounts.v1`` event type);
* ``ended``: ``{"reason": "signed_out"}``, then the stream closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final
from uuid import UUID

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from fastapi import APIRouter, Header, Query, Request
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from cachalot_common.events import AccountChanged, PostStatusChanged
from cachalot_common.sessions import COOKIE_NAME, CurrentClient, SessionError, SessionVerifier
from cachalot_common.topics import ACCOUNTS, POSTS_STATUS
from cachalot_common.wakeup import wait_event

logger = logging.getLogger(__name__)

TOPIC_KEYS: Final[Mapping[str, str]] = {POSTS_STATUS: "s", ACCOUNTS: "a"}
"""The letter each fed topic has in an event id."""
_TOPICS_BY_KEY: Final = {key: topic for topic, key in TOPIC_KEYS.items()}
_PART = re.compile(r"^([sa])(\d{1,6})\.(\d{1,19})$")
MAX_ID_CHARS: Final = 2048
SESSION_CHECK_S: Final = 1.0
READY_WAIT_S: Final = 10.0
RETRY_MS: Final = 3000
"""How long the browser waits before reconnecting (the ``retry:`` field)."""

Position = dict[TopicPartition, int]
"""Partition → the next offset (one past the last record taken)."""


def format_id(position: Mapping[TopicPartition, int]) -> str:
    """An event id from a position, e.g. ``s0.12-s1.3-a0.7`` (sorted, so stable)."""
    parts = sorted((TOPIC_KEYS[tp.topic], tp.partition, offset) for tp, offset in position.items())
    return "-".join(f"{key}{partition}.{offset}" for key, partition, offset in parts)


def parse_id(text: str | None) -> Position | None:
    """The position an event id names; None when absent, too long or malformed."""
    if not text or len(text) > MAX_ID_CHARS:
        return None
    position: Position = {}
    for part in text.strip().split("-"):
        match = _PART.match(part)
        if match is None:
            return None
        key, partition, offset = match.groups()
        position[TopicPartition(_TOPICS_BY_KEY[key], int(partition))] = int(offset)
    return position


@dataclass(frozen=True, slots=True)
class Entry:
    """One record of the ring: where it is, whose it is, what the stream sends."""

    seq: int
    tp: TopicPartition
    offset: int
    client_id: UUID | None
    event: str
    data: str


def _entry(seq: int, record: ConsumerRecord[bytes, bytes]) -> Entry:
    """The ring entry for one record; an undecodable one is kept with no client (skipped)."""
    tp = TopicPartition(record.topic, record.partition)
    try:
        if record.topic == POSTS_STATUS:
            status = PostStatusChanged.model_validate_json(record.value or b"")
            total = status.bytes_total
            percent = (
                min(100, 100 * (status.bytes_sent or 0) // total)
                if total and status.status == "publishing"
                else None
            )
            data: dict[str, Any] = {
                "post_id": str(status.post_id),
                "target_id": str(status.target_id),
                "account_id": str(status.account_id),
                "platform": status.platform,
                "status": status.status,
                "previous": status.previous,
                "reason": status.reason,
                "code": status.code,
                "remote_url": status.remote_url,
                "bytes_sent": status.bytes_sent,
                "bytes_total": total,
                "percent": percent,
                "occurred_at": status.occurred_at.isoformat(),
            }
            return Entry(seq, tp, record.offset, status.client_id, "status", json.dumps(data))
        account = AccountChanged.model_validate_json(record.value or b"")
        data = {
            "account_id": str(account.account_id),
            "platform": account.platform,
            "status": account.type,
            "display_name": account.display_name,
            "reason": account.reason,
            "occurred_at": account.occurred_at.isoformat(),
        }
        return Entry(seq, tp, record.offset, account.client_id, "account", json.dumps(data))
    except ValidationError:
        logger.info("undecodable record at %s:%d skipped by the live feed", tp, record.offset)
        return Entry(seq, tp, record.offset, None, "", "")


class LiveFeed:
    """Both topics read whole by this replica into a ring of recent records.

    ``buffer_events``: records kept (all clients together); ``backfill_per_partition``:
    records read back from each partition's end at start. Raises nothing at start when
    the broker is away: the reader retries until it answers.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        buffer_events: int,
        backfill_per_partition: int,
        client_id: str = "queue-live",
    ) -> None:
        self.buffer_events = buffer_events
        self.backfill_per_partition = backfill_per_partition
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._ring: deque[Entry] = deque()
        self._seq = 0
        self.position: Position = {}
        self._start: Position = {}  # from here on, the ring holds every record
        self._changed = asyncio.Event()
        self.epoch = 0
        """Bumped when a partition's offsets go back (the broker lost its log)."""
        self.restarted: Position = {}
        """Partition → the offset its log started again from (the latest such restart)."""
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    # ---- reading the topics

    async def start(self) -> None:
        """Start reading in the background (:attr:`ready` is set once positioned)."""
        self._task = asyncio.create_task(self._run(), name="queue-live-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the broker went away: start again shortly
                logger.warning("live feed reader stopped (%s); restarting", type(error).__name__)
                if self._consumer is not None:
                    with contextlib.suppress(Exception):
                        await self._consumer.stop()
                    self._consumer = None
                await asyncio.sleep(1.0)

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """Wait for every partition of both topics (no group: all are ours), then seek."""
        while True:
            partitions = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
            if {tp.topic for tp in partitions} == set(TOPIC_KEYS):
                break
            await asyncio.sleep(0.1)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        for tp in partitions:
            begin = max(starts[tp], ends[tp] - self.backfill_per_partition)
            if tp in self.position:  # a restart of the reader goes on from where it was
                begin = max(begin, min(self.position[tp], ends[tp]))
            else:
                self.position[tp] = begin
                self._start[tp] = begin
            consumer.seek(tp, begin)
        return partitions

    async def _read(self) -> None:
        # Subscribed with no group: every partition is assigned to this consumer (and
        # asking for the topics creates them where the broker auto-creates topics).
        consumer = AIOKafkaConsumer(
            *TOPIC_KEYS,
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,
        )
        self._consumer = consumer
        await consumer.start()
        await self._assign(consumer)
        self.ready.set()
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            for tp, records in batch.items():
                for record in records:
                    self._take(tp, record)
            if batch:
                self._changed.set()
                self._changed = asyncio.Event()

    def _take(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        if record.offset < self.position.get(tp, 0):
            # offsets went back: the broker lost its log and started again
            logger.warning("live feed: %s restarted at offset %d", tp, record.offset)
            self._ring = deque(e for e in self._ring if e.tp != tp)
            self._start[tp] = record.offset
            self.restarted[tp] = record.offset
            self.epoch += 1
        self._seq += 1
        self._ring.append(_entry(self._seq, record))
        self.position[tp] = record.offset + 1
        while len(self._ring) > self.buffer_events:
            old = self._ring.popleft()
            self._start[old.tp] = max(self._start.get(old.tp, 0), old.offset + 1)

    # ---- what a stream reads

    def resumable(self, position: Position | None) -> bool:
        """Whether every record after ``position`` is still in the ring (see the module)."""
        if position is None or not self.position:
            return False
        for tp, mine in self.position.items():
            theirs = position.get(tp)
            if theirs is None or theirs < self._start.get(tp, 0):
                return False
            if theirs > mine and self._caught_up(tp):
                return False  # past the log's end: the broker lost it
        return True

    def _caught_up(self, tp: TopicPartition) -> bool:
        consumer = self._consumer
        if consumer is None:
            return False
        high = consumer.highwater(tp)
        return high is not None and self.position.get(tp, 0) >= high

    def entries_after(self, seq: int) -> list[Entry]:
        """Ring entries newer than ``seq`` (oldest first)."""
        if not self._ring or self._ring[-1].seq <= seq:
            return []
        first = self._ring[0].seq
        skip = max(0, seq + 1 - first)
        return [e for i, e in enumerate(self._ring) if i >= skip]

    @property
    def last_seq(self) -> int:
        return self._seq

    async def wait(self, timeout_s: float) -> None:
        """Until new records arrive or ``timeout_s`` passes."""
        await wait_event(self._changed, timeout_s)  # a cancellation always propagates


class ClientStream:
    """One client's stream: resume, replay, live events and heartbeats (see the module)."""

    def __init__(
        self,
        feed: LiveFeed,
        *,
        client_id: UUID,
        last_event_id: str | None,
        still_signed_in: Callable[[], bool],
        heartbeat_s: float,
    ) -> None:
        self._feed = feed
        self._client_id = client_id
        self._still_signed_in = still_signed_in
        self._heartbeat_s = heartbeat_s
        asked = parse_id(last_event_id)
        self.resumed = feed.resumable(asked)
        self._epoch = feed.epoch
        if self.resumed and asked is not None:
            self._cursor = 0  # walk the whole ring; records up to ``asked`` are skipped
            self._position: Position = dict(asked)
        else:
            self._restart()

    def _restart(self) -> None:
        """Follow from the feed's present position (the page reloads its lists)."""
        self._epoch = self._feed.epoch
        self._cursor = self._feed.last_seq
        self._position = dict(self._feed.position)

    def _id(self) -> str:
        return format_id(self._position)

    def _pending(self) -> list[ServerSentEvent]:
        out: list[ServerSentEvent] = []
        for entry in self._feed.entries_after(self._cursor):
            self._cursor = entry.seq
            if entry.offset < self._position.get(entry.tp, 0):
                continue  # delivered before (the resume point is past it)
            self._position[entry.tp] = entry.offset + 1
            if entry.client_id == self._client_id and entry.event:
                out.append(ServerSentEvent(entry.data, event=entry.event, id=self._id()))
        return out

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        """The stream's messages until the session ends (then ``ended``) or the client goes."""
        yield ServerSentEvent(
            json.dumps({"resumed": self.resumed}), event="ready", id=self._id(), retry=RETRY_MS
        )
        last_write = time.monotonic()
        while True:
            if not self._still_signed_in():
                yield ServerSentEvent(json.dumps({"reason": "signed_out"}), event="ended")
                return
            if self._feed.epoch != self._epoch:  # the broker lost its log: offsets restarted
                self._epoch = self._feed.epoch
                for tp, low in self._feed.restarted.items():
                    self._position[tp] = min(self._position.get(tp, low), low)
                yield ServerSentEvent(json.dumps({"resumed": False}), event="ready", id=self._id())
                last_write = time.monotonic()
            sent = self._pending()
            for message in sent:
                yield message
            if sent:
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= self._heartbeat_s:
                for tp, offset in self._feed.position.items():  # nothing of ours up to here
                    self._position[tp] = max(self._position.get(tp, 0), offset)
                yield ServerSentEvent(comment="keep-alive", id=self._id())
                last_write = time.monotonic()
            await self._feed.wait(min(SESSION_CHECK_S, self._heartbeat_s))


def live_router(feed: LiveFeed, *, heartbeat_s: float) -> APIRouter:
    """``GET /api/v1/events`` (see the module); 401/403 problems as every client route."""
    router = APIRouter(tags=["live"])

    @router.get(
        "/api/v1/events",
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "Server-Sent Events: ready, status, account, ended.",
            },
            401: {"description": "Not signed in, or the session ended."},
            403: {"description": "An operator's session."},
        },
        summary="The signed-in client's live status, progress and account changes",
    )
    async def events(
        request: Request,
        client_id: CurrentClient,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        resume: Annotated[
            str | None,
            Query(
                max_length=MAX_ID_CHARS,
                description="The last event id, for a new EventSource (which cannot send "
                "Last-Event-ID) after the browser gave up on the old one; the header wins.",
            ),
        ] = None,
    ) -> EventSourceResponse:
        await wait_event(feed.ready, READY_WAIT_S)  # a replica that just started
        verifier: SessionVerifier = request.app.state.session_verifier
        token = request.cookies.get(COOKIE_NAME)

        def still_signed_in() -> bool:
            try:
                verifier.verify(token)
            except SessionError:
                return False
            return True

        stream = ClientStream(
            feed,
            client_id=client_id,
            last_event_id=last_event_id or resume,
            still_signed_in=still_signed_in,
            heartbeat_s=heartbeat_s,
        )
        return EventSourceResponse(stream.events())

    return router
