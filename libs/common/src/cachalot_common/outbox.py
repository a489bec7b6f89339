"""The one outbox relay: events written durably with their change, published after.

A service writes an event where its change is written (DESIGN.md, "Delivery
guarantees"): a row of its own ``outbox`` table in the same transaction
(auth, queue), or a line of an append-only hash-chained log (contact).
:class:`OutboxRelay` publishes what its :class:`OutboxSource` holds after
its cursor, in order, and marks it acknowledged only after the broker
acknowledged every event of the batch. A crash between publish and mark
publishes again (consumers dedupe on ``event_id``); a broker that is down,
or came back empty, just means the events wait and go out when it answers.

An acknowledgement is trusted only once an :class:`AckCheck` confirmed it
(:class:`cachalot_common.broker_acks.KafkaAckCheck` for Kafka): Tansu, which
keeps nothing, acknowledges a record sent to a topic it no longer has, and
creating that topic afterwards hides the record (issue 11: contact messages
accepted while the embedded broker restarted were acknowledged and lost). A
batch whose acknowledgement is not confirmed counts as a failed round: it is
not marked, its topics are ensured, and it is sent again (at least once).

A source gives the relay three things: a batch of events after its cursor
(:meth:`OutboxSource.batch`, with the means to acknowledge it), a wait for
more (:meth:`OutboxSource.wait`) and a place to keep its cursor on the way
out (:meth:`OutboxSource.close`); the relay's :meth:`OutboxRelay.health`
says when the broker last acknowledged anything. :class:`TableSource` is
the database table; the contact service's log source lives with its log.

A service's table meets :class:`OutboxTable`: ``id`` (ascending), ``topic``,
``key``, ``payload`` (the event's JSON), ``sent_at``, and optionally
``trace`` (a W3C trace-context carrier, restored around the publish so the
trace goes on). On PostgreSQL several relays share the table by claiming
rows with ``FOR UPDATE SKIP LOCKED`` (``claim_with_lock``); on SQLite one
process is the only writer and reading is enough.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from faststream.kafka import KafkaBroker
from faststream.kafka.response import KafkaPublishCommand
from faststream.response import PublishType
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Tracer, get_current_span
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from cachalot_common.events import utcnow
from cachalot_common.metrics import relay_failing_for
from cachalot_common.redaction import redact
from cachalot_common.text import truncate
from cachalot_common.wakeup import Wakeup

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

FAILURE_LOG_EVERY_S = 60.0
"""While the relay keeps failing with the same cause, how often it says so again."""

Publish = Callable[[str, str, bytes], Awaitable[Any]]
"""``publish(topic, key, payload)``: send one event and wait for the broker's ack."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One event as it goes on its topic: ``payload`` is the event's JSON (bytes)."""

    topic: str
    key: str
    payload: bytes
    trace: Mapping[str, str] | None = None


async def _nothing() -> None:
    return None


@dataclass(slots=True)
class Batch:
    """Events after a source's cursor, in order.

    ``acknowledge()`` moves the cursor past the batch; the relay calls it only
    once the broker acknowledged every event. ``taken`` counts the entries the
    batch covers, which is more than ``len(events)`` when a source skips an
    entry it cannot publish (the relay keeps reading while ``taken`` > 0).
    ``requeue()`` puts the batch back after it was acknowledged (its events go
    out again): the relay calls it when the broker that confirmed the batch is
    seen gone before every consumer read it, and the broker there now does not
    serve it (Tansu keeps nothing; see :class:`OutboxRelay`).
    """

    events: Sequence[Outgoing]
    acknowledge: Callable[[], Awaitable[None]] = _nothing
    taken: int = -1
    requeue: Callable[[], Awaitable[None]] = _nothing

    def __post_init__(self) -> None:
        if self.taken < 0:
            self.taken = len(self.events)


class UntrustedAck(ConnectionError):
    """The broker acknowledged a batch, but the acknowledgement cannot be trusted (the
    topic was missing, the records cannot be read back, the broker restarted meanwhile)."""


class AckCheck(Protocol):
    """Decides whether a broker's acknowledgements can be trusted (see the module docstring)."""

    async def before(self, topics: Collection[str]) -> None:
        """Called before a batch for ``topics`` is sent: make sure they exist (ensure them
        where topics are ensured) and note the broker's incarnation. Raises when the
        broker does not answer."""
        ...

    async def confirm(self, acks: Sequence[Acked]) -> None:
        """Called after every event of the batch was acknowledged at ``acks``. Raises
        :class:`UntrustedAck` unless each record is readable on the broker that
        :meth:`before` saw."""
        ...

    def lost(self) -> bool:
        """The broker that confirmed the last batch is gone (its connection closed):
        what it held may be gone with it."""
        ...

    async def consumed(self, acks: Sequence[Acked]) -> set[Acked]:
        """Those of ``acks`` surely read: every consumer group that reads the record's
        topic (has committed an offset on any of its partitions) has committed past the
        record, and at least one group does. Raises when the broker does not answer."""
        ...

    async def served(self, records: Sequence[tuple[Acked, Outgoing]]) -> set[Acked]:
        """Those of ``records`` the broker serves now at their acknowledged offsets, with
        their own key and payload (a broker that kept them); afterwards :meth:`lost` is
        false. Raises when the broker does not answer."""
        ...

    async def close(self) -> None:
        """The relay stopped: let go of the check's connections."""
        ...


@dataclass(frozen=True, slots=True)
class Acked:
    """Where the broker says one event was written."""

    topic: str
    partition: int
    offset: int


class OutboxSource(Protocol):
    """Where an outbox's events wait for the relay."""

    def batch(self, limit: int) -> contextlib.AbstractAsyncContextManager[Batch]:
        """At most ``limit`` unacknowledged events after the cursor, held while the block runs
        (a database source keeps its row locks until the block ends)."""
        ...

    async def wait(self, wake: Wakeup, seconds: float) -> None:
        """Return when more events may be there: ``wake`` was set, the source saw new
        events, or ``seconds`` passed."""
        ...

    async def close(self) -> None:
        """The relay stopped: keep the cursor (a file-backed source saves it)."""
        ...


@dataclass(frozen=True, slots=True)
class RelayHealth:
    """``answered_at``: unix time of the broker's last acknowledgement (``None``: never);
    ``failures``: publish rounds failed in a row (0 while publishing works)."""

    answered_at: float | None
    failures: int


class OutboxTable(Protocol):
    """The columns every service's outbox table has (an ORM class, mapped)."""

    __tablename__: ClassVar[str]
    id: InstrumentedAttribute[int]
    topic: InstrumentedAttribute[str]
    key: InstrumentedAttribute[str]
    payload: InstrumentedAttribute[str]
    sent_at: InstrumentedAttribute[datetime | None]


def kafka_publish(broker: KafkaBroker) -> Publish:
    """A :data:`Publish` straight to ``broker``'s producer (:func:`produce`): the record's
    value is the payload, its key the key's UTF-8 bytes, its trace context the current one
    (the relay restores each event's own around its send); acknowledged by the broker when
    the returned coroutine ends. No span of its own: the relay sends an event that stored
    its trace under :func:`producer_span` in that trace (:meth:`OutboxRelay._publish`)."""

    async def publish(topic: str, key: str, payload: bytes) -> Any:
        return await produce(broker, topic, key.encode(), payload)

    return publish


async def produce(
    broker: KafkaBroker,
    topic: str,
    key: bytes,
    payload: bytes,
    *,
    confirm: bool = True,
    tracer: Tracer | None = None,
) -> Any:
    """Send one record straight to ``broker``'s producer: headers ``content-type:
    application/json``, a ``correlation_id`` and the current trace context (W3C
    ``traceparent``/``tracestate``). ``confirm``: return once the broker acknowledged it
    (its ``RecordMetadata``); else once it is handed to the producer (an
    ``asyncio.Future`` of the acknowledgement).

    ``tracer``: send inside a PRODUCER span ``<topic> publish`` with the messaging
    attributes FastStream's telemetry gives its own (OpenTelemetry messaging semantic
    conventions: ``messaging.system`` kafka, ``messaging.destination.name``,
    ``messaging.operation`` publish, ``messaging.message.conversation_id``,
    ``messaging.kafka.message.key``), and the record's ``traceparent`` names that span;
    ``None``: no span (as a broker built without a tracer provider).

    Not through the broker's publish middlewares (FastStream's telemetry and logging):
    they opened two producer spans (create and publish), a logging scope and a metrics
    observation per record, about two fifths of the queue's CPU while a backlog drained
    (issue 9). Under FastStream's ``TestKafkaBroker`` the producer is its in-memory one.
    """
    if tracer is None:
        return await _produce(broker, topic, key, payload, confirm)
    with producer_span(tracer, topic, key):
        return await _produce(broker, topic, key, payload, confirm)


def producer_span(
    tracer: Tracer, topic: str, key: bytes, *, parent: otel_context.Context | None = None
) -> AbstractContextManager[Span]:
    """The PRODUCER span ``<topic> publish`` a record is sent in (made current), with the
    messaging attributes FastStream's telemetry gives its own (OpenTelemetry messaging
    semantic conventions: ``messaging.system`` kafka, ``messaging.destination.name``,
    ``messaging.operation`` publish, ``messaging.kafka.message.key``); ``parent``: the
    trace it belongs to, else the current one. One definition for the publishers' results
    and the outbox relays' events."""
    return tracer.start_as_current_span(
        f"{topic} publish",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": topic,
            "messaging.operation": "publish",
            "messaging.kafka.message.key": key.decode(errors="replace"),
        },
    )


async def _produce(
    broker: KafkaBroker, topic: str, key: bytes, payload: bytes, confirm: bool
) -> Any:
    headers = {"content-type": "application/json"}
    propagate.inject(headers)
    correlation_id = broker.config.id_generator()
    span = get_current_span()
    if span.is_recording():
        span.set_attribute("messaging.message.conversation_id", correlation_id)
    command = KafkaPublishCommand(
        payload,
        topic=topic,
        key=key,
        headers=headers,
        correlation_id=correlation_id,
        no_confirm=not confirm,
        _publish_type=PublishType.PUBLISH,
    )
    return await broker.config.producer.publish(command)


class TableSource:
    """A service's outbox table (:class:`OutboxTable`) as an :class:`OutboxSource`.

    ``reader``: sessions for the unlocked read (SQLite: a pool of its own).
    ``claim_with_lock``: claim rows ``FOR UPDATE SKIP LOCKED`` and mark them in
    the same transaction (PostgreSQL, several relays on one table).
    ``keep_sent``: sent rows older than this are deleted (every minute);
    ``None`` keeps them.
    """

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        table: type[Any],
        *,
        reader: async_sessionmaker[AsyncSession] | None = None,
        claim_with_lock: bool = False,
        keep_sent: timedelta | None = None,
    ) -> None:
        self._factory = factory
        self._reader = reader or factory
        self._table = table
        self._lock = claim_with_lock
        self._keep_sent = keep_sent
        self._purged_at = 0.0

    @contextlib.asynccontextmanager
    async def batch(self, limit: int) -> AsyncIterator[Batch]:
        if self._keep_sent is not None and time.monotonic() - self._purged_at > 60:
            self._purged_at = time.monotonic()
            await self.purge_sent()
        if self._lock:
            async with self._factory() as session, session.begin():
                rows = await self._claim(session, limit)
                ids = [r.id for r in rows]
                yield Batch(
                    _events(rows),
                    lambda: self._mark(session, ids),
                    requeue=lambda: self._unmark(ids),
                )
            return
        async with self._reader() as session:
            rows = await self._claim(session, limit)
        ids = [r.id for r in rows]

        async def acknowledge() -> None:
            async with self._factory() as session, session.begin():
                await self._mark(session, ids)

        yield Batch(_events(rows), acknowledge, requeue=lambda: self._unmark(ids))

    async def wait(self, wake: Wakeup, seconds: float) -> None:
        await wake.wait(seconds)

    async def close(self) -> None:
        return None

    async def purge_sent(self) -> None:
        """Delete rows sent longer ago than ``keep_sent``."""
        if self._keep_sent is None:
            return
        table = self._table
        cutoff = utcnow() - self._keep_sent
        async with self._factory() as session, session.begin():
            await session.execute(
                delete(table).where(table.sent_at.is_not(None), table.sent_at < cutoff)
            )

    async def _claim(self, session: AsyncSession, limit: int) -> list[Any]:
        """Up to ``limit`` unsent rows in id order, as plain rows of the columns a batch
        needs (no ORM objects: loading each into the session was most of a claim's cost)."""
        table = self._table
        columns = [table.id, table.topic, table.key, table.payload]
        if hasattr(table, "trace"):
            columns.append(table.trace)
        query = select(*columns).where(table.sent_at.is_(None)).order_by(table.id).limit(limit)
        if self._lock:
            query = query.with_for_update(skip_locked=True)
        return list((await session.execute(query)).all())

    async def _unmark(self, ids: list[int]) -> None:
        """Rows sent again by the next round (those not purged meanwhile)."""
        if ids:
            table = self._table
            async with self._factory() as session, session.begin():
                await session.execute(update(table).where(table.id.in_(ids)).values(sent_at=None))

    async def _mark(self, session: AsyncSession, ids: list[int]) -> None:
        if ids:
            table = self._table
            await session.execute(update(table).where(table.id.in_(ids)).values(sent_at=utcnow()))


def _events(rows: list[Any]) -> list[Outgoing]:
    return [
        Outgoing(r.topic, r.key, r.payload.encode(), getattr(r, "trace", None) or None)
        for r in rows
    ]


class OutboxRelay:
    """Publishes an outbox's events in order; :meth:`nudge` after a commit sends at once.

    ``source``: where the events wait (:class:`OutboxSource`; for a table,
    :class:`TableSource` or :meth:`for_table`).
    ``batch``: at most this many events a round, awaited together.
    ``idle_s``: how long to wait for more when the source had less than a batch.
    ``publish_timeout_s``: a batch not acknowledged in this time fails and is retried.
    ``first_backoff_s``/``max_backoff_s``: the pause after a failed round doubles
    from the first up to the cap.
    ``check``: confirms each batch's acknowledgements before the batch is marked
    (:class:`AckCheck`; every Kafka relay has one, a fake publisher in tests may not).
    ``say_every_s``: while rounds keep failing with one cause, how often the relay logs
    it again (:data:`FAILURE_LOG_EVERY_S`).

    **After the acknowledgement: kept until read.** A broker may lose records it
    acknowledged before anyone read them: the embedded Tansu keeps nothing across a
    restart; Apache Kafka with replication (``acks=all``, ``min.insync.replicas`` ≥ 2)
    keeps them. A record is surely delivered once every consumer group that reads its
    topic has committed past it (Kafka's own definition of consumed), so the relay
    keeps each confirmed batch (its offsets, events and ``requeue``) until then:

    * released when :meth:`AckCheck.consumed` says so for every record of it, asked
      at most every ``consumed_poll_s`` and never sooner than ``replay_s`` after the
      confirmation (a group that has not committed since a broker came back empty is
      not seen as a reader yet: the floor covers its first poll);
    * released anyway after ``keep_max_s`` (a topic nobody reads, a consumer stopped
      for good), with a warning: memory stays bounded by what consumers lag behind;
    * when the check sees the broker gone (:meth:`AckCheck.lost`), each kept batch is
      read back from the broker that is there now (:meth:`AckCheck.served`: the
      same key and payload at the same offset): a broker that kept it (Kafka with
      replication, or a connection that merely closed) sends nothing twice; a batch
      it does not serve (Tansu came back empty) is put back and sent again (at least
      once; the consumers dedupe by ``event_id``).

    A 30 s window alone (the rule before) lost an event confirmed earlier and not
    yet read (a consumer down, or lagging, when the broker lost everything); a longer
    fixed window would still lose it past the window, and would send duplicates on a
    broker that kept everything. Costs, while batches are kept: a ListGroups and an
    OffsetFetch per group every ``consumed_poll_s``; on a loss, one read per batch.
    """

    def __init__(
        self,
        source: OutboxSource,
        publish: Publish,
        *,
        wake: Wakeup | None = None,
        batch: int = 500,
        idle_s: float = 0.2,
        publish_timeout_s: float = 30.0,
        first_backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        check: AckCheck | None = None,
        replay_s: float = 30.0,
        keep_max_s: float = 3600.0,
        consumed_poll_s: float = 5.0,
        say_every_s: float = FAILURE_LOG_EVERY_S,
    ) -> None:
        self.source = source
        self._say_every_s = say_every_s
        self.check = check
        self._replay_s = replay_s
        self._keep_max_s = keep_max_s
        self._consumed_poll_s = consumed_poll_s
        self._consumed_asked_at = 0.0
        self._kept: collections.deque[_Kept] = collections.deque()
        self._publish_one = publish
        self._wake = wake or Wakeup()
        self._batch = batch
        self._idle_s = idle_s
        self._timeout = publish_timeout_s
        self._first_backoff = first_backoff_s
        self._max_backoff = max_backoff_s
        self._draining = asyncio.Lock()
        self._answered_at: float | None = None
        self._failures = 0
        self._failing_since: float | None = None  # monotonic start of the failed rounds
        self._said = ("", 0.0)  # the cause last logged, and when (monotonic)
        self._topics: list[str] = []  # the topics of the round under way

    @classmethod
    def for_table(
        cls,
        factory: async_sessionmaker[AsyncSession],
        table: type[Any],
        publish: Publish,
        *,
        reader: async_sessionmaker[AsyncSession] | None = None,
        claim_with_lock: bool = False,
        keep_sent: timedelta | None = None,
        **options: Any,
    ) -> OutboxRelay:
        """The relay over a service's outbox table (see :class:`TableSource`)."""
        source = TableSource(
            factory, table, reader=reader, claim_with_lock=claim_with_lock, keep_sent=keep_sent
        )
        return cls(source, publish, **options)

    def nudge(self) -> None:
        """Something was committed: publish now, not at the next round."""
        self._wake.set()

    def health(self) -> RelayHealth:
        """When the broker last acknowledged a batch (confirmed by the check, if any), and
        how many rounds failed since; ``failures`` > 0 means it cannot publish now."""
        return RelayHealth(self._answered_at, self._failures)

    async def drain(self) -> int:
        """Publish everything there is now; how many entries were taken."""
        total = 0
        while taken := await self.relay_once():
            total += taken
        return total

    async def run(self) -> None:
        """Relay until cancelled; a failing broker is retried with a growing pause.

        A warning when publishing starts failing (the batch's topics and the cause),
        again when the cause changes and every :data:`FAILURE_LOG_EVERY_S` while it
        lasts, and one when it works again; ``cachalot_outbox_relay_failing_seconds``
        says how long it has been failing. The check's connections are closed when
        it ends.
        """
        try:
            await self._run()
        finally:
            if self.check is not None:
                await self.check.close()

    async def _run(self) -> None:
        while True:
            try:
                taken = await self.relay_once()
                if taken < self._batch:  # idle: release what was read, replay what was lost
                    await self.replay_if_lost()
                self._succeeded()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._failed(error)
                pause = self._first_backoff * 2 ** (self._failures - 1)
                await asyncio.sleep(min(self._max_backoff, pause))
                continue
            if taken < self._batch:
                await self.source.wait(self._wake, self._idle_s)

    def _failed(self, error: Exception) -> None:
        """Count a failed round; say so (topics and cause) when failing starts, when its
        cause changes and every ``say_every_s`` while it lasts (issue 11: a
        relay failed for minutes after one warning, and readiness stays 200 "degraded")."""
        self._failures += 1
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        failing_s = now - self._failing_since
        relay_failing_for(failing_s)
        cause = failure_cause(error)
        said, said_at = self._said
        if self._failures > 1 and cause == said and now - said_at < self._say_every_s:
            return
        self._said = (cause, now)
        logger.warning(
            "outbox relay: publishing to %s failing for %.0fs (%d rounds; %s); events wait "
            "and are retried",
            ", ".join(self._topics or self._kept_topics()) or "(no batch read)",
            failing_s,
            self._failures,
            cause,
        )

    def _kept_topics(self) -> list[str]:
        """Topics of the batches kept until read (an idle round's failure is in them)."""
        return sorted({ack.topic for item in self._kept for ack in item.acks})

    def _succeeded(self) -> None:
        if self._failures:
            logger.warning(
                "outbox relay: publishing again after %d failed rounds over %.0fs",
                self._failures,
                time.monotonic() - (self._failing_since or time.monotonic()),
            )
            relay_failing_for(0.0)
        self._failures = 0
        self._failing_since = None
        self._said = ("", 0.0)

    async def stop(self, task: asyncio.Task[None], seconds: float) -> None:
        """Stop ``task`` (running :meth:`run`) between two batches, publish for the rest of
        ``seconds`` what is still there, then let the source keep its cursor
        (:meth:`OutboxSource.close`). A broker that does not answer leaves the rest for
        the next start."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        try:
            async with asyncio.timeout(seconds), self._draining:
                task.cancel()  # not in the middle of a batch: no event is sent twice
        except TimeoutError:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        try:
            async with asyncio.timeout(max(deadline - loop.time(), 0.0)):
                await self.drain()
        except Exception as error:
            logger.warning(
                "outbox relay: stopped with events unpublished (%s)", type(error).__name__
            )
        finally:
            await self.source.close()
            if self.check is not None:
                await self.check.close()

    async def relay_once(self) -> int:
        """Publish one batch (at most ``batch`` events); how many entries it took."""
        async with self._draining, self.source.batch(self._batch) as batch:
            # one round at a time in this process: no double sends
            self._topics = sorted({event.topic for event in batch.events})
            if batch.events:
                if self.check is not None:
                    await self.check.before({event.topic for event in batch.events})
                results = await self._publish_all(batch.events)
                if self.check is not None:
                    if self.check.lost():  # the broker went since the last batch
                        await self.replay_if_lost()
                    acks = _acked(batch.events, results)
                    await self.check.confirm(acks)
                    self._kept.append(_Kept(time.monotonic(), acks, batch.events, batch.requeue))
                self._answered_at = time.time()
            if batch.taken:
                await batch.acknowledge()
            return batch.taken

    def kept(self) -> int:
        """How many confirmed batches are kept until read (see the class docstring)."""
        return len(self._kept)

    async def replay_if_lost(self) -> int:
        """Release kept batches that were read; if the broker that confirmed the rest is
        gone, put back those it no longer serves (they go out again). Returns how many
        batches were put back. Raises when the broker does not answer (nothing changed)."""
        if self.check is None:
            return 0
        await self._release_consumed(self.check)
        if not self._kept or not self.check.lost():
            return 0
        kept = list(self._kept)
        served = await self.check.served(
            [pair for item in kept for pair in zip(item.acks, item.events, strict=True)]
        )
        gone = [item for item in kept if not set(item.acks) <= served]
        self._kept = collections.deque(item for item in kept if set(item.acks) <= served)
        for item in gone:
            await item.requeue()
        if gone:
            logger.warning(
                "outbox relay: the broker lost %d of %d confirmed batches not yet read; "
                "sending them again",
                len(gone),
                len(kept),
            )
        return len(gone)

    async def _release_consumed(self, check: AckCheck) -> None:
        now = time.monotonic()
        while self._kept and now - self._kept[0].at > self._keep_max_s:
            item = self._kept.popleft()
            logger.warning(
                "outbox relay: %d events on %s confirmed %.0f s ago and still not read by "
                "every group: no longer kept for a broker loss",
                len(item.acks),
                ", ".join(sorted({a.topic for a in item.acks})),
                now - item.at,
            )
        old = [item for item in self._kept if now - item.at >= self._replay_s]
        if not old or now - self._consumed_asked_at < self._consumed_poll_s:
            return
        self._consumed_asked_at = now
        read = await check.consumed([ack for item in old for ack in item.acks])
        done = {id(item) for item in old if set(item.acks) <= read}
        self._kept = collections.deque(item for item in self._kept if id(item) not in done)

    async def _publish_all(self, events: Sequence[Outgoing]) -> list[Any]:
        # Sends are queued in order, so per-key (per-partition) order holds;
        # awaiting them together lets the producer batch them.
        sends = [asyncio.ensure_future(self._publish(event)) for event in events]
        try:
            return await asyncio.wait_for(asyncio.gather(*sends), timeout=self._timeout)
        except BaseException:
            for send in sends:
                send.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(*sends, return_exceptions=True)
            raise

    async def _publish(self, event: Outgoing) -> Any:
        """Send ``event``; one with a stored trace context is sent under a PRODUCER span
        ``<topic> publish`` in that trace, whose context its record then carries (issue
        13 item 4: the trace went from the row's writer straight to the consumer, the
        relay and Kafka not in it). One without is sent with no span: a trace of one
        span per event would say nothing."""
        if not event.trace:
            return await self._publish_one(event.topic, event.key, event.payload)
        trace_of = propagate.extract(dict(event.trace))
        with producer_span(_tracer, event.topic, event.key.encode(), parent=trace_of):
            return await self._publish_one(event.topic, event.key, event.payload)


def failure_cause(error: BaseException) -> str:
    """What a failed round's ``error`` says, for a log line: its type and the first line
    of its text (a database error's own driver error, not the statement and its
    parameters), secrets redacted (:func:`cachalot_common.redaction.redact`), at most
    300 characters. Never an event's payload: no error the relay meets carries one."""
    orig = getattr(error, "orig", None)  # SQLAlchemy's DBAPIError: the driver's error
    shown = orig if isinstance(orig, BaseException) else error
    text = str(shown).strip().splitlines()[0] if str(shown).strip() else ""
    kind = type(shown).__name__
    if text and not text.startswith(kind):  # aiokafka's errors name their kind already
        text = f"{kind}: {text}"
    return truncate(redact(text or kind), 300)


@dataclass(eq=False, slots=True)
class _Kept:
    """A confirmed batch kept until its records are read (``at``: monotonic seconds)."""

    at: float
    acks: list[Acked]
    events: Sequence[Outgoing]
    requeue: Callable[[], Awaitable[None]]


def _acked(events: Sequence[Outgoing], results: Sequence[Any]) -> list[Acked]:
    """Where each event was written, from the publisher's results (aiokafka's
    ``RecordMetadata``: ``topic``, ``partition``, ``offset``). A result without them
    cannot be confirmed: :class:`UntrustedAck`."""
    acked = []
    for event, result in zip(events, results, strict=True):
        partition = getattr(result, "partition", None)
        offset = getattr(result, "offset", None)
        if not isinstance(partition, int) or not isinstance(offset, int) or offset < 0:
            raise UntrustedAck(f"the publisher gave no offset for an event on {event.topic}")
        acked.append(Acked(event.topic, partition, offset))
    return acked
