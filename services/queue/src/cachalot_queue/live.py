"""The dashboard's live feed: ``GET /api/v1/events``, Server-Sent Events per signed-in client.

Fed from ``posts.status.v1`` (a target's status, and publishing progress),
``accounts.v1`` (an account connected, needing a reconnect, revoked), DESIGN.md
"Server push", and ``proposals.v1`` (an operator's proposal made, edited, approved,
sent back: :class:`~cachalot_common.events.ProposalChanged`).

**The operator's page has a stream of the same kind**, ``GET /api/v1/operator/events``
(an operator's session): the same feed, ring, ids, resumes and session checks, with
every client's ``proposal`` events and posts' ``status`` transitions (the operator's
deliveries and posts in trouble follow them; progress events are left out), never
accounts' events. A stream is one
:class:`ClientStream` with a filter of the ring's entries (:func:`live_router`).

**Every replica reads every event, with no consumer group.** The gateway may
send a client's stream to any replica, so each replica must see all events of
all clients. A consumer group per replica would do it too, but leaves a group
behind on the broker for every replica that ever ran (and each start waits for
a group join, seconds on Tansu) to keep offsets nobody needs: the feed is a
broadcast held in memory, like the session revocations
(:mod:`cachalot_queue.revocations`). So :class:`LiveFeed` assigns itself every
partition of the three topics (``group_id=None``), starts a little before their end
(:attr:`LiveFeed.backfill_per_partition` records, so a replica that just
started can still resume a stream another replica was serving) and keeps the
last :attr:`LiveFeed.buffer_events` records in a ring.

A browser resends the last id by itself when it reconnects; a page that had to
open a new ``EventSource`` (the browser gives up after an answer other than 200,
such as the gateway's 503 while the queue restarts) passes it as ``?resume=``.

**Event ids are Kafka positions.** An event's ``id`` is the vector of "next
offset" per partition of the three topics up to which the stream has delivered
everything for its client, e.g. ``s0.120-s1.98-s2.7-s3.55-a0.4-a1.0-a2.9-a3.2-p0.3-…``
(``s`` posts.status.v1, ``a`` accounts.v1, ``p`` proposals.v1; an id made before
``p`` existed names no ``p`` partition, so it is not resumed: the page reloads).
Offsets are the broker's, the same on every replica, so the browser's
``Last-Event-ID`` can be resumed anywhere:
the replica replays, from its ring, the client's records past that vector
(nothing missed, nothing delivered twice), then goes on live. Heartbeats
carry the id too (an ``id:`` line with no data updates the browser's
``lastEventId`` without firing an event), so a quiet stream's resume point
stays current and a resume replays only what was really missed.

**An id names its log**: its last part, ``k<topic><partition>.<offset>.<ms>``,
is the newest record the stream had passed (where it is, and its Kafka
timestamp in ms). A replica resumes an id only when its ring holds that record
with that timestamp, so an id made on a broker's log that is gone (Tansu
restarted empty and numbers records from 0 again) is never taken for a
position in the new one, whatever its offsets.

**A gap too old to replay** (the ring no longer holds a partition's records
from that offset, a partition the id does not name, a malformed id, an id whose
record is not the one the ring holds, or an offset past the log's end because
the broker lost its topics) is said with the first event, ``ready`` with
``{"resumed": false}``: the page reloads its lists.

**A broker that lost its log** is noticed by the reader (issue 11): a fetch
answered with a log end below our position, a reader that reconnects and
finds the end below it, a record numbered below it, or, whenever a fetch
brings records of a partition (the broker may have come back with a new log
already grown past our position, between two fetches), the last record taken
of that partition no longer at its offset with its content and timestamp
(:class:`~cachalot_common.record_identity.LogFollower`, looked at before the
fetch's records are taken). The feed then starts again from the new
log's beginning: the ring is emptied, every open stream sends ``ready``
``{"resumed": false}`` (the page reloads its lists) and then every record of
the new log for its client. Readiness (``live``) is failing while the reader
gets no answers from the broker (:meth:`LiveFeed.reading`).

**A stream that falls further behind than the ring** (its page reads slower than
records arrive, e.g. a phone whose socket buffers are full, while more records than
the ring keeps come in) is told the same way, ``ready`` ``{"resumed": false}``, and
goes on from the present: never a silent gap.

**A replica that just started serves streams once its backfill is read**
(:attr:`LiveFeed.ready`), so a new stream starts at the present: the records read back
are there to resume other replicas' streams, never sent to a new one as news.

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
* ``proposal``: ``{proposal_id, delivery_id, client_id, change, status, post_id,
  occurred_at}`` (``change`` and ``status`` as in ``proposals.v1``);
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

from cachalot_common.events import AccountChanged, PostStatusChanged, ProposalChanged
from cachalot_common.record_identity import LogFollower, RecordCheck
from cachalot_common.sessions import (
    COOKIE_NAME,
    CurrentClient,
    CurrentOperator,
    SessionError,
    SessionVerifier,
)
from cachalot_common.topics import ACCOUNTS, POSTS_STATUS, PROPOSALS
from cachalot_common.wakeup import wait_event

logger = logging.getLogger(__name__)

TOPIC_KEYS: Final[Mapping[str, str]] = {POSTS_STATUS: "s", ACCOUNTS: "a", PROPOSALS: "p"}
"""The letter each fed topic has in an event id."""
_TOPICS_BY_KEY: Final = {key: topic for topic, key in TOPIC_KEYS.items()}
_PART = re.compile(r"^([sap])(\d{1,6})\.(\d{1,19})$")
_CHECK = re.compile(r"^k([sap])(\d{1,6})\.(\d{1,19})\.(\d{1,19})$")
MAX_ID_CHARS: Final = 2048
SESSION_CHECK_S: Final = 1.0
READY_WAIT_S: Final = 10.0
READ_STALE_S: Final = 5.0
"""The reader counts as not reading when no fetch was answered for this long."""
LOG_CHECK_WAIT_S: Final = 3.0
RETRY_MS: Final = 3000
"""How long the browser waits before reconnecting (the ``retry:`` field)."""

Position = dict[TopicPartition, int]
"""Partition → the next offset (one past the last record taken)."""


@dataclass(frozen=True, slots=True)
class Mark:
    """A record an id was made after: where it is and its Kafka timestamp (ms)."""

    tp: TopicPartition
    offset: int
    stamp: int


def format_id(position: Mapping[TopicPartition, int], mark: Mark | None = None) -> str:
    """An event id from a position, e.g. ``s0.12-s1.3-a0.7-ks0.11.1764580000000``
    (sorted, so stable; the ``k`` part is ``mark``, the log's record it follows)."""
    parts = sorted((TOPIC_KEYS[tp.topic], tp.partition, offset) for tp, offset in position.items())
    text = "-".join(f"{key}{partition}.{offset}" for key, partition, offset in parts)
    if mark is not None:
        key = TOPIC_KEYS[mark.tp.topic]
        text += f"-k{key}{mark.tp.partition}.{mark.offset}.{max(mark.stamp, 0)}"
    return text


def _split(text: str | None) -> tuple[Position, Mark | None] | None:
    if not text or len(text) > MAX_ID_CHARS:
        return None
    position: Position = {}
    mark: Mark | None = None
    for part in text.strip().split("-"):
        checked = _CHECK.match(part)
        if checked is not None and mark is None:
            key, partition, offset, stamp = checked.groups()
            mark = Mark(
                TopicPartition(_TOPICS_BY_KEY[key], int(partition)), int(offset), int(stamp)
            )
            continue
        match = _PART.match(part)
        if match is None:
            return None
        key, partition, offset = match.groups()
        position[TopicPartition(_TOPICS_BY_KEY[key], int(partition))] = int(offset)
    return position, mark


def parse_id(text: str | None) -> Position | None:
    """The position an event id names; None when absent, too long or malformed."""
    split = _split(text)
    return None if split is None else split[0]


def parse_mark(text: str | None) -> Mark | None:
    """The record an event id was made after (its ``k`` part); None when it has none."""
    split = _split(text)
    return None if split is None else split[1]


@dataclass(frozen=True, slots=True)
class Entry:
    """One record of the ring: where it is, whose it is, what the stream sends."""

    seq: int
    tp: TopicPartition
    offset: int
    stamp: int
    client_id: UUID | None
    event: str
    data: str
    transition: bool = True
    """False for a status record that is no transition (progress while publishing)."""

    @property
    def mark(self) -> Mark:
        return Mark(self.tp, self.offset, self.stamp)


def _entry(seq: int, record: ConsumerRecord[bytes, bytes]) -> Entry:
    """The ring entry for one record; an undecodable one is kept with no client (skipped)."""
    tp = TopicPartition(record.topic, record.partition)
    stamp = record.timestamp
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
            return Entry(
                seq,
                tp,
                record.offset,
                stamp,
                status.client_id,
                "status",
                json.dumps(data),
                transition=status.previous != status.status,
            )
        if record.topic == PROPOSALS:
            proposal = ProposalChanged.model_validate_json(record.value or b"")
            data = {
                "proposal_id": str(proposal.proposal_id),
                "delivery_id": str(proposal.delivery_id),
                "client_id": str(proposal.client_id),
                "change": proposal.change,
                "status": proposal.status,
                "post_id": str(proposal.post_id) if proposal.post_id else None,
                "occurred_at": proposal.occurred_at.isoformat(),
            }
            return Entry(
                seq, tp, record.offset, stamp, proposal.client_id, "proposal", json.dumps(data)
            )
        account = AccountChanged.model_validate_json(record.value or b"")
        data = {
            "account_id": str(account.account_id),
            "platform": account.platform,
            "status": account.type,
            "display_name": account.display_name,
            "reason": account.reason,
            "occurred_at": account.occurred_at.isoformat(),
        }
        return Entry(seq, tp, record.offset, stamp, account.client_id, "account", json.dumps(data))
    except ValidationError:
        logger.info("undecodable record at %s:%d skipped by the live feed", tp, record.offset)
        return Entry(seq, tp, record.offset, stamp, None, "", "")


class LiveFeed:
    """The fed topics read whole by this replica into a ring of recent records.

    ``buffer_events``: records kept (all clients together); ``backfill_per_partition``:
    records read back from each partition's end at start (at most the ring's share of each
    partition, ``buffer_events`` divided by the partitions' count). Raises nothing at start when
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
        self._last: dict[TopicPartition, Entry] = {}  # the newest record taken, per partition
        self._changed = asyncio.Event()
        self.epoch = 0
        """Bumped when the broker is found to have lost its log (see the module)."""
        self.restarted: Position = {}
        """Partition → the offset its log started again from (the latest such restart)."""
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._task: asyncio.Task[None] | None = None
        self._lost = False  # the log is gone: the reader starts again from the new one
        # the last record taken of each partition, checked whenever a fetch brings more
        self._follower = LogFollower(
            RecordCheck(bootstrap, client_id=f"{client_id}-check", timeout_s=LOG_CHECK_WAIT_S)
        )
        self.ready = asyncio.Event()
        """Set once the reader has read back its backfill (up to each partition's end when
        it was positioned), so a new stream starts at the present, not inside history."""
        self._caught_up_to: Position = {}  # the ends to read before ready
        self._epoch_seq = 0  # the last seq taken before the latest log restart

    # ---- reading the topics

    async def start(self) -> None:
        """Start reading in the background (:attr:`ready` is set once the backfill is read)."""
        self._task = asyncio.create_task(self._run(), name="queue-live-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()
        await self._follower.check.close()

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
        """Wait for every partition of the topics (no group: all are ours), then seek."""
        while True:
            partitions = sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition))
            if {tp.topic for tp in partitions} == set(TOPIC_KEYS):
                break
            await asyncio.sleep(0.1)
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
        if any(ends[tp] < self.position.get(tp, 0) for tp in partitions):
            self._restart_log(starts, "its log ends before our position")
        # never more than the ring holds: a backfill pushed out of the ring by the next
        # partition's could resume nothing
        per = min(self.backfill_per_partition, self.buffer_events // max(1, len(partitions)))
        for tp in partitions:
            begin = max(starts[tp], ends[tp] - per)
            if tp in self.position:  # a restart of the reader goes on from where it was
                begin = max(starts[tp], self.position[tp])
            else:
                self.position[tp] = begin
                self._start[tp] = begin
            consumer.seek(tp, begin)
        if not self.ready.is_set():
            self._caught_up_to = {tp: ends[tp] for tp in partitions}
        # a partition started past its log's beginning with nothing taken yet: the record
        # before where it starts is the one a new log must not be mistaken for
        unmarked = [
            (tp, self.position[tp] - 1)
            for tp in partitions
            if tp not in self._last and self.position[tp] > starts[tp]
        ]
        found = await self._follower.check.read(unmarked, ends=ends)
        for place in unmarked:
            mark = found.get(place)
            if mark is None:
                raise ConnectionError(f"the record before {place[0]}'s start was not read")
            self._follower.took_mark(mark)
        self._partitions = partitions
        return partitions

    def _restart_log(self, starts: Mapping[TopicPartition, int], why: str) -> None:
        """The broker lost its log: follow the new one from its beginning (see the module)."""
        logger.warning("live feed: the broker lost its log (%s); reading the new one", why)
        self._ring.clear()
        self._last.clear()
        self._follower.forget()
        self.position = {tp: starts.get(tp, 0) for tp in set(self.position) | set(starts)}
        self._start = dict(self.position)
        self.restarted = dict(self.position)
        self._epoch_seq = self._seq
        self.epoch += 1
        self.ready.set()  # the new log is read from its beginning: nothing to read back
        self._changed.set()
        self._changed = asyncio.Event()

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
        partitions = await self._assign(consumer)
        self._mark_ready_when_read_back()
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            if batch:
                # perhaps a broker that came back without its log, which may already have
                # grown past our position: look before taking anything (one read-back a fetch)
                try:
                    if await self._follower.changed(batch, end=consumer.highwater):
                        self._lost = True
                except Exception as error:  # no answer: read this batch again after a look
                    logger.warning("live feed: could not check the broker's log (%r)", error)
                    for tp in batch:
                        consumer.seek(tp, self.position[tp])
                    continue
            for tp, records in batch.items():
                for record in records:
                    self._take(tp, record)
            if batch:
                self._changed.set()
                self._changed = asyncio.Event()
            self._mark_ready_when_read_back()
            # a fetch answered with the log's end below our position: a new, shorter log
            short = [
                tp
                for tp in partitions
                if (high := consumer.highwater(tp)) is not None and high < self.position[tp]
            ]
            if short or self._lost:
                self._lost = False
                why = f"{short[0]} ends before our position" if short else "offsets went back"
                self._restart_log(await consumer.beginning_offsets(partitions), why)
                for tp in partitions:
                    consumer.seek(tp, self.position[tp])

    def _mark_ready_when_read_back(self) -> None:
        if not self.ready.is_set() and all(
            self.position.get(tp, 0) >= end for tp, end in self._caught_up_to.items()
        ):
            self.ready.set()

    def _take(self, tp: TopicPartition, record: ConsumerRecord[bytes, bytes]) -> None:
        if self._lost:
            return  # read again from the new log's beginning at once
        if record.offset < self.position.get(tp, 0):
            # offsets went back: the broker lost its log and started again
            logger.warning("live feed: %s restarted at offset %d", tp, record.offset)
            self._lost = True
            return
        self._seq += 1
        entry = _entry(self._seq, record)
        self._ring.append(entry)
        self._last[tp] = entry
        self._follower.took(record)
        self.position[tp] = record.offset + 1
        while len(self._ring) > self.buffer_events:
            old = self._ring.popleft()
            self._start[old.tp] = max(self._start.get(old.tp, 0), old.offset + 1)

    def reading(self) -> bool:
        """Whether the reader has every partition and a fetch of each was answered within
        :data:`READ_STALE_S` (the ``live`` readiness check)."""
        consumer = self._consumer
        if consumer is None or not self.ready.is_set() or not self._partitions:
            return False
        now_ms = time.time() * 1000
        try:
            polled = [consumer.last_poll_timestamp(tp) for tp in self._partitions]
        except AssertionError:  # not assigned (a reader being replaced)
            return False
        return all(t is not None and now_ms - t <= READ_STALE_S * 1000 for t in polled)

    # ---- what a stream reads

    def resumable(self, position: Position | None, mark: Mark | None = None) -> bool:
        """Whether every record after ``position`` is still in the ring, and ``mark``
        (the record the id was made after) is the ring's record at that offset: an id
        of a log the broker lost is not (see the module)."""
        if position is None or not self.position:
            return False
        if any(offset > 0 for offset in position.values()) and not self._holds(mark):
            return False
        for tp, mine in self.position.items():
            theirs = position.get(tp)
            if theirs is None or theirs < self._start.get(tp, 0):
                return False
            if theirs > mine and self._caught_up(tp):
                return False  # past the log's end: the broker lost it
        return True

    def _holds(self, mark: Mark | None) -> bool:
        if mark is None:
            return False
        return any(e.mark == mark for e in self._ring if e.tp == mark.tp)

    def newest_mark(self) -> Mark | None:
        """The newest record taken (an id's ``k`` part for a stream that passed it)."""
        return self._ring[-1].mark if self._ring else None

    def _caught_up(self, tp: TopicPartition) -> bool:
        consumer = self._consumer
        if consumer is None:
            return False
        high = consumer.highwater(tp)
        return high is not None and self.position.get(tp, 0) >= high

    def behind(self, seq: int) -> bool:
        """Whether a record taken after ``seq`` has already left the ring (a stream at
        ``seq`` can no longer be told everything: its page must reload)."""
        return bool(self._ring) and self._ring[0].seq > seq + 1

    @property
    def epoch_seq(self) -> int:
        """The last seq taken before the broker's latest lost log (the new log's records
        come after it)."""
        return self._epoch_seq

    def first_seq(self) -> int:
        """The seq just before the ring's oldest record (a walk of the whole ring starts here)."""
        return self._ring[0].seq - 1 if self._ring else self._seq

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


def client_entries(client_id: UUID) -> Callable[[Entry], bool]:
    """What a client's stream sends: its own status, account and proposal events."""
    return lambda entry: entry.client_id == client_id


def operator_entries(entry: Entry) -> bool:
    """What an operator's stream sends: every client's proposal events and post status
    transitions (its deliveries' posts and the posts in trouble follow them; progress
    while publishing, many a second, is left out)."""
    if entry.client_id is None:
        return False
    return entry.event == "proposal" or (entry.event == "status" and entry.transition)


class ClientStream:
    """One page's stream: resume, replay, live events and heartbeats (see the module).

    ``wants``: which ring entries it sends (:func:`client_entries`,
    :func:`operator_entries`); the position moves past the others all the same."""

    def __init__(
        self,
        feed: LiveFeed,
        *,
        wants: Callable[[Entry], bool],
        last_event_id: str | None,
        still_signed_in: Callable[[], bool],
        heartbeat_s: float,
    ) -> None:
        self._feed = feed
        self._wants = wants
        self._still_signed_in = still_signed_in
        self._heartbeat_s = heartbeat_s
        asked = parse_id(last_event_id)
        mark = parse_mark(last_event_id)
        self.resumed = feed.resumable(asked, mark)
        self._epoch = feed.epoch
        self._mark = mark
        if self.resumed and asked is not None:
            # walk the whole ring; records up to ``asked`` are skipped
            self._cursor = feed.first_seq()
            self._position: Position = dict(asked)
        else:
            self._restart()

    def _restart(self) -> None:
        """Follow from the feed's present position (the page reloads its lists)."""
        self._epoch = self._feed.epoch
        self._cursor = self._feed.last_seq
        self._position = dict(self._feed.position)
        self._mark = self._feed.newest_mark()

    def _id(self) -> str:
        return format_id(self._position, self._mark)

    def _pending(self) -> list[ServerSentEvent]:
        out: list[ServerSentEvent] = []
        for entry in self._feed.entries_after(self._cursor):
            self._cursor = entry.seq
            if entry.offset < self._position.get(entry.tp, 0):
                continue  # delivered before (the resume point is past it)
            self._position[entry.tp] = entry.offset + 1
            self._mark = entry.mark
            if entry.event and self._wants(entry):
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
            if self._feed.epoch != self._epoch:  # the broker lost its log: read the new one
                self._epoch = self._feed.epoch
                self._position = dict(self._feed.restarted)
                self._cursor = self._feed.epoch_seq  # the ring holds only the new log's records
                self._mark = None
                yield ServerSentEvent(json.dumps({"resumed": False}), event="ready", id=self._id())
                last_write = time.monotonic()
            if self._feed.behind(self._cursor):  # the page did not keep up: it reloads
                self._restart()
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
                self._mark = self._feed.newest_mark() or self._mark
                yield ServerSentEvent(comment="keep-alive", id=self._id())
                last_write = time.monotonic()
            await self._feed.wait(min(SESSION_CHECK_S, self._heartbeat_s))


def _stream(
    request: Request,
    feed: LiveFeed,
    *,
    wants: Callable[[Entry], bool],
    last_event_id: str | None,
    heartbeat_s: float,
) -> EventSourceResponse:
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
        wants=wants,
        last_event_id=last_event_id,
        still_signed_in=still_signed_in,
        heartbeat_s=heartbeat_s,
    )
    return EventSourceResponse(stream.events())


_RESUME_DOC: Final = (
    "The last event id, for a new EventSource (which cannot send Last-Event-ID) after "
    "the browser gave up on the old one; the header wins."
)


def live_router(feed: LiveFeed, *, heartbeat_s: float) -> APIRouter:
    """``GET /api/v1/events`` (a client's) and ``GET /api/v1/operator/events`` (an
    operator's: every client's proposals and status transitions), see the module;
    401/403 problems as every client or operator route."""
    router = APIRouter(tags=["live"])

    @router.get(
        "/api/v1/events",
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "Server-Sent Events: ready, status, account, proposal, ended.",
            },
            401: {"description": "Not signed in, or the session ended."},
            403: {"description": "An operator's session."},
        },
        summary="The signed-in client's live status, progress, account and proposal changes",
    )
    async def events(
        request: Request,
        client_id: CurrentClient,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        resume: Annotated[
            str | None, Query(max_length=MAX_ID_CHARS, description=_RESUME_DOC)
        ] = None,
    ) -> EventSourceResponse:
        await wait_event(feed.ready, READY_WAIT_S)  # a replica that just started
        return _stream(
            request,
            feed,
            wants=client_entries(client_id),
            last_event_id=last_event_id or resume,
            heartbeat_s=heartbeat_s,
        )

    @router.get(
        "/api/v1/operator/events",
        response_class=EventSourceResponse,
        responses={
            200: {
                "content": {"text/event-stream": {}},
                "description": "Server-Sent Events: ready, proposal and status (every "
                "client's; status transitions only, no progress), ended.",
            },
            401: {"description": "Not signed in, or the session ended."},
            403: {"description": "A client's session."},
        },
        summary="The operator's live proposal changes (made, edited, approved, sent back) "
        "and post status changes",
    )
    async def operator_events(
        request: Request,
        _operator: CurrentOperator,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        resume: Annotated[
            str | None, Query(max_length=MAX_ID_CHARS, description=_RESUME_DOC)
        ] = None,
    ) -> EventSourceResponse:
        await wait_event(feed.ready, READY_WAIT_S)
        return _stream(
            request,
            feed,
            wants=operator_entries,
            last_event_id=last_event_id or resume,
            heartbeat_s=heartbeat_s,
        )

    return router
