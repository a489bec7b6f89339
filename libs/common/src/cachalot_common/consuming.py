"""The one consumer kit: decode or dead-letter, acknowledge after success, recover.

Every CACHALOT consumer is registered with :func:`subscribe` (one topic or a
map of topics to handlers) or :func:`subscribe_batch`, when the app is built,
so ``TestKafkaBroker`` drives the real handlers. For each record:

* the body is decoded here, not by FastStream: a record that does not decode
  goes to ``<topic>.dlq`` (DESIGN.md, "Kafka topics") with its key, its
  headers and ``x-dlq-reason`` / ``x-dlq-source-{topic,partition,offset}``,
  and is acknowledged: a poison message never blocks a partition;
* a handler that raises one of ``dead_letter_on`` refuses that very record
  for good: it is parked the same way, its reason ``refused: <error>``;
* any other error is transient: after a pause that grows per failure in a
  row (``retry_pause_s`` doubling up to ``retry_pause_max_s``) the record is
  rewound and delivered again, so a database or platform outage is one
  log line every few seconds, not a spin;
* the offset is committed only after the handler succeeded (ack after
  success). A commit the broker refuses (a broker that restarted empty no
  longer knows the group) is counted, not raised: the record is simply
  delivered again later, and :class:`BrokerWatch` restarts a consumer whose
  commits keep failing.

:class:`BrokerWatch` is what survives a broker that lost everything (Tansu
keeps nothing, DESIGN.md "Delivery guarantees"): it probes the broker every
``probe_interval_s``; when the broker comes back (or a topic it should have
is missing or changed its partition count) it ensures the topics of
:mod:`cachalot_common.topic_plan` (when ``CACHALOT_KAFKA_ENSURE_TOPICS``) and
restarts every subscriber, which joins its group afresh and reads every
partition from the committed position (or the earliest). Its
:meth:`BrokerWatch.readiness` checks make ``/readyz`` fail while the broker
is gone or a consumer is stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from pydantic import BaseModel, ValidationError

from cachalot_common.group_repair import release_departed_leader
from cachalot_common.health import ReadinessCheck
from cachalot_common.kafka import commit_as_member, commit_timeout_s, in_memory, start_broker
from cachalot_common.metrics import count_dead_letter
from cachalot_common.record_identity import LogFollower, RecordCheck
from cachalot_common.settings import KafkaSettings
from cachalot_common.text import truncate
from cachalot_common.topic_plan import ensure_topics, planned_partitions
from cachalot_common.topics import dlq

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)

REASON_HEADER = "x-dlq-reason"


@dataclass(frozen=True)
class Route(Generic[ModelT]):
    """What one topic's records decode to and who handles them."""

    model: type[ModelT]
    handler: Callable[[ModelT], Awaitable[None]]


@dataclass(frozen=True)
class ErrorPolicy:
    """What a handler's exception means (see the module docstring).

    ``dead_letter_on``: exception types that refuse the record for good (parked
    in ``<topic>.dlq``); anything else is retried after a growing pause, in
    seconds.
    """

    dead_letter_on: tuple[type[BaseException], ...] = ()
    retry_pause_s: float = 0.2
    retry_pause_max_s: float = 5.0

    def pause_s(self, failures: int) -> float:
        """The pause before the ``failures``-th redelivery in a row (1-based)."""
        return float(min(self.retry_pause_max_s, self.retry_pause_s * 2 ** max(0, failures - 1)))


@dataclass
class GroupHealth:
    """Commit and handler outcomes of one subscriber, for recovery and readiness."""

    name: str
    commit_failures: int = 0
    failing_since: float | None = None  # monotonic time of the first failure in a row
    handler_failures: int = 0
    last_error: str = ""

    def commit_ok(self) -> None:
        self.commit_failures = 0
        self.failing_since = None

    def commit_failed(self, error: BaseException) -> None:
        self.commit_failures += 1
        self.last_error = type(error).__name__
        if self.failing_since is None:
            self.failing_since = time.monotonic()
            logger.warning(
                "%s: offset commit refused (%s); the record will come again", self.name, error
            )

    def failing_for_s(self) -> float:
        return 0.0 if self.failing_since is None else time.monotonic() - self.failing_since


@dataclass
class _Registry:
    groups: dict[int, GroupHealth] = field(default_factory=dict)  # id(subscriber) → health
    # topic → (model, group id): what the kit decodes, for the AsyncAPI document
    consumed: dict[str, tuple[type[BaseModel], str | None]] = field(default_factory=dict)
    # the broadcast subscribers' read-back checks (closed with the broker watch)
    checks: list[RecordCheck] = field(default_factory=list)


_REGISTRIES: weakref.WeakKeyDictionary[KafkaBroker, _Registry] = weakref.WeakKeyDictionary()


def _registry(broker: KafkaBroker) -> _Registry:
    registry = _REGISTRIES.get(broker)
    if registry is None:
        registry = _REGISTRIES[broker] = _Registry()
    return registry


def health_of(broker: KafkaBroker) -> list[GroupHealth]:
    """The health records of every subscriber the kit registered on ``broker``."""
    return list(_registry(broker).groups.values())


def consumed_routes(broker: KafkaBroker) -> dict[str, tuple[type[BaseModel], str | None]]:
    """Every topic the kit subscribed ``broker`` to: its model and group (None: broadcast)."""
    return dict(_registry(broker).consumed)


def consumes(
    broker: KafkaBroker, topic: str, model: type[BaseModel], *, group_id: str | None
) -> None:
    """Record what a subscriber built by hand decodes, for the AsyncAPI document."""
    _registry(broker).consumed[topic] = (model, group_id)


async def raw_body(message: StreamMessage[Any]) -> bytes:
    """The raw bytes for the handler: decoding (and its failures) is the kit's job."""
    return bytes(message.body)


async def raw_records(message: StreamMessage[Any]) -> Any:
    """A batch's raw values: a poison record must not fail the whole batch."""
    return [record.value or b"" for record in message.raw_message]


def record_context(record: Any) -> Context:
    """The OpenTelemetry context a consumed record (aiokafka ``ConsumerRecord``) carries in
    its W3C ``traceparent``/``tracestate`` headers (an empty one without them)."""
    carrier = {
        str(k): v.decode("latin-1") if isinstance(v, bytes) else str(v)
        for k, v in (getattr(record, "headers", None) or ())
    }
    return propagate.extract(carrier, context=Context())


def process_attributes(topic: str, partition: int = -1, offset: int = -1) -> dict[str, str | int]:
    """The attributes of a span that processes one Kafka record of ``topic``
    (OpenTelemetry semantic conventions for messaging spans, ``process``
    operation); ``-1``: not known (a batch handler given only trace contexts)."""
    attributes: dict[str, str | int] = {
        "messaging.system": "kafka",
        "messaging.operation": "process",
        "messaging.destination.name": topic,
    }
    if partition >= 0:
        attributes["messaging.kafka.destination.partition"] = partition
    if offset >= 0:
        attributes["messaging.kafka.message.offset"] = offset
    return attributes


@contextlib.contextmanager
def _record_span(record: Any) -> Iterator[None]:
    """``<topic> process``, a consumer span in the trace of ``record`` (its ``traceparent``).

    FastStream's telemetry middleware gave a fetch of several records one span
    in a trace of its own (the records' traces only linked), so a handler run
    under it started every record's work, and the events it sends, in a new
    trace (issue 13: the operator's Telegram message for a failed post linked a
    trace other than the post's); it opens none for a fetch now
    (:func:`cachalot_common.kafka.record_spans_only`). Each record is handled
    under its own span, in the trace its record carries, else in the current one.
    """
    topic = str(getattr(record, "topic", ""))
    attributes = process_attributes(
        topic, int(getattr(record, "partition", -1)), int(getattr(record, "offset", -1))
    )
    carried = record_context(record)
    parent = trace.get_current_span(carried).get_span_context()
    with _tracer.start_as_current_span(
        f"{topic} process",
        # a record without a trace context stays in the current one (the fetch's)
        context=carried if parent.is_valid else None,
        kind=trace.SpanKind.CONSUMER,
        attributes=attributes,
    ):
        yield


@contextlib.contextmanager
def _batch_span(topic: str, contexts: list[Context]) -> Iterator[Context | None]:
    """``<topic> process`` for a batch handled in one go (one transaction): a consumer
    span in the trace of the batch's first record, linked to the other records' spans.

    One transaction's statements can have one parent only; the first record's trace is
    the one that waited longest, and a batch of one (the usual case when the system is
    not busy) is then wholly in its record's trace, its SQL included (issue 13 item 4:
    the queue's result handling ran in a trace of its own). A first record without a
    trace context leaves the batch in the current one. Yields the span's context when it
    is in the first record's trace (None otherwise).
    """
    parents = [trace.get_current_span(c).get_span_context() for c in contexts]
    first = contexts[0] if parents and parents[0].is_valid else None
    links = [trace.Link(p) for p in parents[1:] if p.is_valid]
    attributes = process_attributes(topic)
    if len(contexts) > 1:
        attributes["messaging.batch.message_count"] = len(contexts)
    with _tracer.start_as_current_span(
        f"{topic} process",
        context=first,
        kind=trace.SpanKind.CONSUMER,
        attributes=attributes,
        links=links,
    ):
        yield otel_context.get_current() if first is not None else None


def decode(model: type[ModelT], body: bytes) -> ModelT | str:
    """``body`` as ``model``, or the DLQ reason why it is not one (no input value in it)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        return describe_validation_error(error)


def describe_validation_error(error: ValidationError) -> str:
    """A short DLQ reason: the first failing field and its message, without the input value."""
    errors = error.errors()
    if not errors:
        return "undecodable message"
    loc = ".".join(str(p) for p in errors[0]["loc"]) or "body"
    return truncate(f"undecodable message: {loc}: {errors[0]['msg']}", 300)


async def dead_letter(
    broker: KafkaBroker, topic: str, record: Any, body: bytes, *, reason: str
) -> None:
    """Park one consumed record (an aiokafka ``ConsumerRecord``) in ``<topic>.dlq``.

    Keeps its key and headers and adds ``x-dlq-reason`` (at most 300
    characters) and ``x-dlq-source-topic``/``-partition``/``-offset``.
    """
    headers = {
        k: v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        for k, v in (getattr(record, "headers", None) or ())
    }
    headers.update(
        {
            REASON_HEADER: truncate(reason, 300),
            "x-dlq-source-topic": topic,
            "x-dlq-source-partition": str(getattr(record, "partition", "")),
            "x-dlq-source-offset": str(getattr(record, "offset", "")),
        }
    )
    await broker.publish(body, topic=dlq(topic), key=getattr(record, "key", None), headers=headers)
    count_dead_letter(topic)
    logger.warning("message sent to %s: %s", dlq(topic), truncate(reason, 300))


async def dead_letter_message(
    broker: KafkaBroker, message: KafkaMessage, *, reason: str, topic: str | None = None
) -> None:
    """:func:`dead_letter` of the record behind one FastStream message."""
    record = message.raw_message
    source = topic or str(getattr(record, "topic", ""))
    await dead_letter(broker, source, record, message.body, reason=reason)


class _Acks:
    """Ack after success, rewind after failure, count refused commits.

    A commit goes out only as the group member the consumer is when it starts, and
    is given up when the consumer stops being that member
    (:func:`cachalot_common.kafka.commit_as_member`): a consumer whose broker came
    back empty would otherwise commit the old log's positions into the new group.
    A commit is bounded by ``commit_timeout_s`` (the group's session): aiokafka
    retries a commit whose group coordinator is unknown without end (a broker
    that died mid-commit), which would hold the consume loop inside one
    handler and hide the fault from :class:`BrokerWatch`. Timed out, it counts
    as refused: the record comes again, and commits failing for longer than
    ``stuck_after_s`` get the consumer restarted.
    """

    def __init__(
        self, health: GroupHealth, policy: ErrorPolicy, *, group: bool, commit_timeout_s: float
    ) -> None:
        self.health = health
        self.policy = policy
        self.group = group
        self.commit_timeout_s = commit_timeout_s
        self.failures = 0

    async def success(self, message: KafkaMessage) -> None:
        self.failures = 0
        if not self.group:
            return  # a broadcast reader has no group to commit to
        consumer = getattr(message, "consumer", None)
        try:
            if isinstance(consumer, AIOKafkaConsumer):  # not in TestKafkaBroker
                # as the member that read the record, never as one that lost its group
                await commit_as_member(consumer, message.ack, None, timeout_s=self.commit_timeout_s)
            else:
                await asyncio.wait_for(message.ack(), timeout=self.commit_timeout_s)
        except Exception as error:
            self.health.commit_failed(error)
        else:
            self.health.commit_ok()

    async def failure(self, message: KafkaMessage, error: BaseException) -> None:
        self.failures += 1
        self.health.handler_failures += 1
        self.health.last_error = type(error).__name__
        # FastStream logs the error itself; the pause bounds how often
        await asyncio.sleep(self.policy.pause_s(self.failures))
        if hasattr(getattr(message, "consumer", None), "seek"):  # not in TestKafkaBroker
            await message.nack()  # rewinds to the record: it is delivered again


def _options(group_id: str | None, options: dict[str, Any]) -> dict[str, Any]:
    options = dict(options)
    options.setdefault("auto_offset_reset", "earliest")
    options["ack_policy"] = AckPolicy.MANUAL  # the kit acknowledges; FastStream does not
    if group_id is None:
        for group_only in ("session_timeout_ms", "heartbeat_interval_ms"):
            options.pop(group_only, None)
    return options


BROADCAST_MAX_RECORDS = 100
"""The fewest records a broadcast subscriber takes per fetch (see :func:`subscribe`)."""


def subscribe(
    broker: KafkaBroker,
    topic: str | Mapping[str, Route[Any]],
    model: type[ModelT] | None = None,
    handler: Callable[[ModelT], Awaitable[None]] | None = None,
    *,
    group_id: str | None,
    policy: ErrorPolicy | None = None,
    max_records: int = 1,
    bootstrap: str | None = None,
    **options: Any,
) -> None:
    """Register a handler for ``topic`` (or handlers for several topics on one consumer).

    ``topic`` is a topic name with ``model`` and ``handler``, or a mapping of
    topic names to :class:`Route` (one consumer, one group member, for all of
    them). Records are decoded or dead-lettered, handler errors follow
    ``policy`` (:class:`ErrorPolicy`), and the offset is committed after the
    handler succeeded. ``options`` go to ``KafkaBroker.subscriber``.

    ``max_records`` > 1 takes up to that many records per fetch and hands them
    to the handlers one by one, in order, with one commit after the last (a
    busy topic whose records mostly need little work, such as status events
    most readers skip, costs one commit per fetch, not per record). A handler
    error rewinds to the start of the fetch: the records before it come again.

    ``group_id=None`` makes a broadcast subscriber: no group, so every
    replica reads every partition from the start of the topic and nothing is
    committed; the handler must be idempotent. For state each replica keeps
    in memory, such as session revocations. Such a reader keeps its own
    offsets, so a broker that came back with a new log already grown past
    them would be read on from the middle (issue 11): each fetch is checked
    against the last record taken of its partitions
    (:class:`~cachalot_common.record_identity.LogFollower`, reading back on
    ``bootstrap``, which a broadcast subscriber must be given), and a
    partition whose log changed is handled and then read again from its new
    log's beginning. It takes a fetch at a time (``max_records`` at least
    :data:`BROADCAST_MAX_RECORDS`): one check per fetch, not per record.
    Raises ``TypeError`` for a broadcast subscriber without ``bootstrap``.
    """
    if isinstance(topic, str):
        if model is None or handler is None:
            raise TypeError("subscribe(topic, ...) needs a model and a handler")
        routes: dict[str, Route[Any]] = {topic: Route(model, handler)}
    else:
        routes = dict(topic)
    follower: LogFollower | None = None
    if group_id is None:
        if bootstrap is None:
            raise TypeError("a broadcast subscriber (group_id=None) needs the bootstrap")
        check = RecordCheck(bootstrap, client_id=f"broadcast-check:{','.join(routes)}")
        _registry(broker).checks.append(check)
        follower = LogFollower(check)
        max_records = max(max_records, BROADCAST_MAX_RECORDS)
    rules = policy or ErrorPolicy()
    name = f"{group_id or 'broadcast'}:{','.join(routes)}"
    health = GroupHealth(name)
    acks = _Acks(
        health,
        rules,
        group=group_id is not None,
        commit_timeout_s=commit_timeout_s(options.get("session_timeout_ms")),
    )

    async def handle(body: bytes, record: Any) -> None:
        source = str(getattr(record, "topic", "")) or next(iter(routes))
        route = routes[source]
        event = decode(route.model, body)
        if isinstance(event, str):
            await dead_letter(broker, source, record, body, reason=event)
            return
        try:
            await route.handler(event)
        except rules.dead_letter_on as error:
            await dead_letter(broker, source, record, body, reason=f"refused: {error}")

    async def consume(body: bytes, message: KafkaMessage) -> None:
        try:
            await handle(body, message.raw_message)
        except Exception as error:
            await acks.failure(message, error)  # never commit past an unhandled record
            raise  # FastStream logs it (TestKafkaBroker hands it to the test)
        await acks.success(message)

    async def consume_fetch(bodies: list[bytes], message: KafkaMessage) -> None:
        records: list[Any] = list(message.raw_message)  # type: ignore[arg-type]
        consumer: Any = getattr(message, "consumer", None)
        follow = follower is not None and hasattr(consumer, "highwater")  # not in memory
        try:
            changed: set[TopicPartition] = set()
            if follower is not None and follow:
                # before taking it: does this fetch continue the log we read?
                changed = await follower.changed(
                    {TopicPartition(r.topic, r.partition) for r in records},
                    end=consumer.highwater,
                )
            for body, record in zip(bodies, records, strict=True):
                with _record_span(record):
                    await handle(body, record)
        except Exception as error:
            await acks.failure(message, error)  # the whole fetch comes again
            raise
        if follower is not None and follow:
            for record in records:
                follower.took(record)
            if changed:  # handled all the same (idempotent); now the new log from its start
                follower.forget(changed)
                await consumer.seek_to_beginning(*changed)
        await acks.success(message)

    name = "on_" + "_".join(t.replace(".", "_") for t in routes)
    if max_records > 1:
        consume_fetch.__name__ = name
        batch = broker.subscriber(
            *routes,
            group_id=group_id,
            batch=True,
            max_records=max_records,
            batch_timeout_ms=50,  # only when nothing is waiting: a fetch returns what it has
            decoder=raw_records,
            **_options(group_id, options),
        )
        batch(consume_fetch)
        subscriber: Any = batch
    else:
        consume.__name__ = name
        subscriber = broker.subscriber(
            *routes, group_id=group_id, decoder=raw_body, **_options(group_id, options)
        )
        subscriber(consume)
    _registry(broker).groups[id(subscriber)] = health
    _registry(broker).consumed.update((t, (r.model, group_id)) for t, r in routes.items())


def subscribe_batch(
    broker: KafkaBroker,
    topic: str,
    model: type[ModelT],
    handler: Callable[..., Awaitable[None]],
    *,
    group_id: str,
    max_records: int = 500,
    policy: ErrorPolicy | None = None,
    trace_contexts: bool = False,
    **options: Any,
) -> None:
    """Like :func:`subscribe`, a batch at a time (one transaction for many records).

    Each record is decoded alone: an undecodable one is dead-lettered and the
    rest of the batch goes on. On a handler error the whole batch is rewound
    and delivered again (the handler must be idempotent). The handler runs under one
    ``<topic> process`` span in the first record's trace (:func:`_batch_span`).
    ``trace_contexts``: the handler is called ``handler(events, contexts)``,
    ``contexts[i]`` the OpenTelemetry context of ``events[i]``'s record (its
    ``traceparent`` header), so work done for one record, and the events it
    sends, stay in that record's trace (a batch has no single one).
    """
    rules = policy or ErrorPolicy()
    health = GroupHealth(f"{group_id}:{topic}")
    acks = _Acks(
        health,
        rules,
        group=True,
        commit_timeout_s=commit_timeout_s(options.get("session_timeout_ms")),
    )

    async def handle(bodies: list[bytes], records: Any) -> None:
        events: list[ModelT] = []
        contexts: list[Context] = []
        for body, record in zip(bodies, records, strict=True):
            event = decode(model, body)
            if isinstance(event, str):
                await dead_letter(broker, topic, record, body, reason=event)
            else:
                events.append(event)
                contexts.append(record_context(record))
        if events:
            with _batch_span(topic, contexts) as batch:
                if batch is not None:  # the first record's own work under the batch's span
                    contexts[0] = batch
                await (handler(events, contexts) if trace_contexts else handler(events))

    async def consume(bodies: list[bytes], message: KafkaMessage) -> None:
        try:
            await handle(bodies, message.raw_message)
        except Exception as error:
            await acks.failure(message, error)  # the whole batch comes again
            raise  # FastStream logs it (TestKafkaBroker hands it to the test)
        await acks.success(message)

    consume.__name__ = f"on_{topic.replace('.', '_')}_batch"
    subscriber = broker.subscriber(
        topic,
        group_id=group_id,
        batch=True,
        max_records=max_records,
        batch_timeout_ms=50,
        decoder=raw_records,
        **_options(group_id, options),
    )
    subscriber(consume)
    _registry(broker).groups[id(subscriber)] = health
    _registry(broker).consumed[topic] = (model, group_id)


def watch_subscriber(broker: KafkaBroker, subscriber: Any, name: str) -> GroupHealth:
    """Let :class:`BrokerWatch` look after a subscriber the kit did not build.

    For consumers that commit by themselves (the publishing runtime's ordered
    commits): they report refused commits to the returned record.
    """
    health = GroupHealth(name)
    _registry(broker).groups[id(subscriber)] = health
    return health


class BrokerWatch:
    """Notices a broker that went away or came back empty, and puts consumers right.

    ``start()`` starts the broker (every subscriber at once) and the probe;
    ``stop()`` stops both. ``restarts`` counts consumer restarts (tests read it).
    """

    def __init__(
        self,
        broker: KafkaBroker,
        settings: KafkaSettings,
        *,
        probe_interval_s: float = 0.5,
        stuck_after_s: float | None = None,
        plan: Mapping[str, int] | None = None,
        repair_after_s: float | None = None,
    ) -> None:
        self.broker = broker
        self.settings = settings
        self.probe_interval_s = probe_interval_s
        # a consumer whose commits fail for longer than a group session (plus a
        # join, seconds on Tansu) is not going to recover on its own
        self.stuck_after_s = stuck_after_s or max(5.0, 2 * settings.kafka_session_timeout_ms / 1000)
        self.plan = dict(plan) if plan is not None else planned_partitions()
        # a join on Tansu is held half a session and a sync as long again, and a loaded
        # machine takes longer still; the look (group_repair) makes a healthy group
        # re-form once, so only a group not formed after four sessions and a margin is
        # looked at (the fault it repairs holds the group for ever)
        session_s = settings.kafka_session_timeout_ms / 1000
        self.repair_after_s = repair_after_s or 4 * session_s + 20.0
        # A restart's start must outlast the repair it waits for (and a join after it):
        # cut at RESTART_TIMEOUT_S (30 s) while the repair came at 60 s, a group held for
        # a leader that left was never freed, and every replica restarted its consumers
        # every 30 s for good (fresh13c: two publisher-telegram replicas, 12 minutes).
        self.start_timeout_s = max(RESTART_TIMEOUT_S, 2 * self.repair_after_s + session_s)
        self.up = True
        self.restarts = 0
        self._steady_since: float | None = None  # monotonic; None while gone or recovering
        self._seen: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._restarting = asyncio.Lock()
        self._recovered: list[Callable[[], Awaitable[None]]] = []
        self._slow = 0  # probes in a row that got no answer in time
        self._pausing: asyncio.Task[None] | None = None
        self._closing = False  # stop() began: the probe loop ends even if its cancel is lost
        # while ensuring topics fails: (monotonic start, cause last logged, logged at)
        self._ensure_failing: tuple[float, str, float] | None = None

    async def start(self) -> None:
        """Start every subscriber at once (see :func:`cachalot_common.kafka.start_broker`).
        Topics that could not be ensured first are ensured again by the first probe,
        which then restarts the consumers (:meth:`recover`)."""
        planned = True
        if self.settings.kafka_ensure_topics and not in_memory(self.broker):
            try:
                await ensure_topics(self.settings.kafka_bootstrap, self.plan)
            except Exception as error:  # the broker may be slow to come; the watch retries
                logger.warning("could not ensure topics at start (%s); trying again", error)
                planned = False
        await start_broker(self.broker, self.start_subscribers)
        self._steady_since = time.monotonic()
        if in_memory(self.broker):
            return
        if not planned:
            self.up = False  # the first probe recovers: ensure, then restart the consumers
            self._steady_since = None
        with contextlib.suppress(Exception):
            self._seen = await self._partitions()
        self._task = asyncio.create_task(self._run(), name="broker-watch")

    async def stop(self) -> None:
        """Stop the probe, then the broker (every subscriber)."""
        self._closing = True
        if self._pausing is not None:
            self._pausing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pausing
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_admin()
        await self.broker.stop()
        for check in _registry(self.broker).checks:
            await check.close()

    async def start_subscribers(self, subscribers: Iterable[Any]) -> None:
        """Start ``subscribers`` all at once; a group whose members are still not
        started after :meth:`repair_after_s` is looked at by its coordinator and freed
        if it names a leader that left (:mod:`cachalot_common.group_repair`), then
        waited for again. Returns when every start returned; a start's error is
        raised (the others cancelled)."""
        await start_repairing(
            subscribers,
            bootstrap=self.settings.kafka_bootstrap,
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            repair_after_s=self.repair_after_s,
        )

    def readiness(self) -> dict[str, ReadinessCheck]:
        """``broker`` (answers now) and ``consumers`` (none stuck) for ``/readyz``."""

        async def broker_answers() -> bool:
            if in_memory(self.broker):
                return True
            if not self.up:
                return False
            try:
                await asyncio.wait_for(self._partitions(), timeout=1.5)
            except Exception:
                return False
            return True

        async def consumers_move() -> bool:
            # Not while a recovery is under way: a consumer that is being
            # restarted reads nothing, whatever the broker answers (issue 11:
            # readiness was green for the ~10 s of the notifier's rejoin).
            return self.recovered() and not self.stuck()

        return {"broker": broker_answers, "consumers": consumers_move}

    def recovered(self) -> bool:
        """False from the moment the broker is seen gone until every consumer has
        been restarted after its return (and while a restart is under way)."""
        if in_memory(self.broker):
            return True
        return self.up and self._steady_since is not None

    def after_recovery(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Call ``callback`` after each recovery from a broker that came back (or
        whose topics changed), once every consumer has been restarted.

        What the broker held may be gone with it (Tansu keeps nothing): a
        service whose commands were in flight uses this to ask again (the
        queue's reconciler re-sends status checks). A failing callback is
        logged, not raised.
        """
        self._recovered.append(callback)

    def listening_for_s(self) -> float:
        """Seconds the broker has answered and every consumer has been reading (0 if not now).

        What a silence may be measured against: an answer sent while the
        broker was gone or the consumers were rejoining may not have been
        read yet (the queue's reconciler waits for this before it concludes
        anything from silence).
        """
        if self._steady_since is None or not self.up or self.stuck():
            return 0.0
        return time.monotonic() - self._steady_since

    def stuck(self) -> list[str]:
        """Names of subscribers whose commits have failed for longer than ``stuck_after_s``."""
        return [h.name for h in health_of(self.broker) if h.failing_for_s() > self.stuck_after_s]

    async def _admin_client(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self.settings.kafka_bootstrap,
                client_id="cachalot-broker-watch",
                request_timeout_ms=2000,
            )
            await admin.start()
            self._admin = admin
        return self._admin

    async def _close_admin(self) -> None:
        if self._admin is not None:
            admin, self._admin = self._admin, None
            with contextlib.suppress(Exception):
                await admin.close()

    async def _partitions(self) -> dict[str, int]:
        """Partition count of every topic the broker has now (raises if it does not answer)."""
        admin = await self._admin_client()
        try:
            # a metadata request for every topic; no topic is auto-created by it
            metadata = await admin._client.fetch_all_metadata()
        except Exception:
            await self._close_admin()
            raise
        return {
            topic: len(metadata.partitions_for_topic(topic) or ()) for topic in metadata.topics()
        }

    async def _run(self) -> None:
        # Python 3.11's asyncio.wait_for returns the result of an awaitable that ended
        # as it was cancelled and drops the cancellation (the probe's metadata look is
        # bounded by one): the loop then went on probing, and stop() waited on it for
        # ever (a publisher's shutdown hung in libs/publishing's broker-lost tests).
        while not self._closing:
            await asyncio.sleep(self.probe_interval_s)
            if self._closing:
                return
            try:
                await self.probe()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("broker watch: probe failed")

    async def probe(self) -> None:
        """One look at the broker; recover if it came back or consumers are stuck."""
        try:
            seen = await asyncio.wait_for(self._partitions(), timeout=3.0)
        except Exception as error:
            self._slow += isinstance(error, TimeoutError)
            if isinstance(error, TimeoutError) and self.up and self._slow < 2:
                # One slow answer on a loaded machine is not a broker that went
                # away: declaring it gone restarts every consumer for nothing
                # (issue 11, seen under load). A refused connection counts at once.
                return
            if self.up:
                logger.error("broker %s is gone (%s)", self.settings.kafka_bootstrap, error)
                self._pausing = asyncio.create_task(self._stop_consumers(), name="consumers-stop")
            self.up = False
            self._steady_since = None
            return
        self._slow = 0
        came_back = not self.up
        self.up = True
        changed = self._changed(seen)
        stuck = self.stuck()
        if came_back or changed or stuck:
            why = (
                "the broker came back"
                if came_back
                else f"topics changed: {', '.join(changed)}"
                if changed
                else f"consumers stuck: {', '.join(stuck)}"
            )
            await self.recover(why, lost=came_back or bool(changed))
            with contextlib.suppress(Exception):
                seen = await self._partitions()
        self._seen = seen

    def _changed(self, seen: Mapping[str, int]) -> list[str]:
        """Topics we read or plan that vanished or changed their partition count."""
        watched = set(self.plan) | self._subscribed()
        return sorted(
            t for t in watched if t in self._seen and seen.get(t) != self._seen.get(t)
        ) + sorted(t for t in self.plan if t not in seen and self.settings.kafka_ensure_topics)

    def _subscribed(self) -> set[str]:
        names: set[str] = set()
        for subscriber in self.broker.subscribers:
            names.update(getattr(subscriber, "topics", ()) or ())
        return names

    async def _stop_consumers(self) -> None:
        """The broker is gone: stop every subscriber now, not when it is back.

        A consumer left running keeps trying its old group and, the moment the
        broker answers again, joins it, so the restart that follows found a
        member to wait for: Tansu held the fresh join about 7 s (its rebalance
        wait) on every service. Stopped while the broker is away, the consumers
        only join once, fresh, when :meth:`recover` starts them (issue 11).
        """
        async with self._restarting:
            if self.up:  # it came back before the stop began: recover() restarts them
                return
            began = time.monotonic()
            await stop_subscribers(self.broker.subscribers, timeout_s=STOP_TIMEOUT_S)
            logger.warning(
                "broker watch: consumers stopped until the broker is back (%.1fs)",
                time.monotonic() - began,
            )

    async def recover(self, why: str, *, lost: bool = True) -> None:
        """Ensure the planned topics, then restart every subscriber (a fresh group join).

        ``lost``: what the broker held may be gone (it came back, or topics
        changed), so the :meth:`after_recovery` callbacks run afterwards; not
        for consumers that were merely stuck.

        A failed ensure (the broker went again, or a topic keeps fewer partitions
        than planned: :class:`~cachalot_common.topic_plan.TopicPlanError`) counts like
        a failed restart: every subscriber is stopped, :attr:`up` is false (readiness
        red) and the next probe tries again; no consumer runs on a broker that does
        not hold the plan.
        """
        async with self._restarting:
            self._steady_since = None
            began = time.monotonic()
            if self._ensure_failing is None:
                logger.warning("broker watch: %s; ensuring topics and restarting consumers", why)
            if self.settings.kafka_ensure_topics and not await self._ensured():
                # No consumer (re)started on a broker without the plan: its metadata
                # requests would have the broker create the missing topics with the
                # broker's own partition count, which an ensure would then find present
                # (issue 11: six topics left with 1 partition, the relays stuck).
                self.up = False  # the next answer from the broker counts as a comeback
                await stop_subscribers(self.broker.subscribers, timeout_s=STOP_TIMEOUT_S)
                return
            try:
                stopped_s = await restart_subscribers(
                    self.broker.subscribers,
                    start=self.start_subscribers,
                    start_timeout_s=self.start_timeout_s,
                )
            except Exception as error:  # a timeout included: the next probe tries again
                logger.error("broker watch: restarting consumers failed (%r); trying again", error)
                self.up = False  # the next answer from the broker counts as a comeback
                return
            for health in health_of(self.broker):
                health.commit_ok()
            self.restarts += 1
            self._steady_since = time.monotonic()
            logger.warning(
                "broker watch: consumers restarted in %.1fs (their stop took %.1fs)",
                self._steady_since - began,
                stopped_s,
            )
            if not lost:
                return
            for callback in self._recovered:
                try:
                    await callback()
                except Exception:
                    logger.exception("broker watch: a recovery callback failed")

    async def _ensured(self) -> bool:
        """Ensure the plan's topics (:func:`~cachalot_common.topic_plan.ensure_topics`);
        False when that failed. A failure is logged as an error when it starts, when its
        cause changes and every :data:`ENSURE_LOG_EVERY_S` while it lasts (the watch tries
        at every probe)."""
        try:
            await ensure_topics(self.settings.kafka_bootstrap, self.plan)
        except Exception as error:
            cause = f"{type(error).__name__}: {error}"
            now = time.monotonic()
            since, said, said_at = self._ensure_failing or (now, "", -ENSURE_LOG_EVERY_S)
            if cause != said or now - said_at >= ENSURE_LOG_EVERY_S:
                logger.error(
                    "broker watch: could not ensure topics for %.0fs (%s); consumers stay "
                    "stopped until the broker holds the plan, trying again at every probe",
                    now - since,
                    cause,
                )
                said, said_at = cause, now
            self._ensure_failing = (since, said, said_at)
            return False
        if self._ensure_failing is not None:
            logger.warning(
                "broker watch: topics ensured after %.0fs of failures",
                time.monotonic() - self._ensure_failing[0],
            )
            self._ensure_failing = None
        return True


RESTART_TIMEOUT_S = 30.0
"""The longest a subscriber's stop, or the start of them all, may take in a restart: a
consumer whose coordinator vanished with the broker can wait on it without end."""


ENSURE_LOG_EVERY_S = 30.0
"""How often a topic ensure that keeps failing is logged again (same cause)."""


STOP_TIMEOUT_S = 10.0
"""The longest a subscriber's stop may take while the broker is gone (its group cannot be
left then; the consumer is closed all the same)."""


async def stop_subscribers(subscribers: Iterable[Any], *, timeout_s: float) -> None:
    """Stop every subscriber at once, each given ``timeout_s`` seconds (then left as it is).
    Stopping one already stopped does nothing."""
    await asyncio.gather(*(_stop(s, timeout_s) for s in subscribers), return_exceptions=True)


async def _stop(subscriber: Any, timeout_s: float) -> None:
    try:
        await asyncio.wait_for(subscriber.stop(), timeout=timeout_s)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        # With the broker gone, aiokafka's close can end in the CancelledError of a
        # coordination task that is already over; the consumer is closed (a second
        # stop returns at once) but the subscriber still holds it: a second stop
        # lets go of it, so the next start makes a fresh one.
        await asyncio.wait_for(subscriber.stop(), timeout=timeout_s)


async def start_repairing(
    subscribers: Iterable[Any], *, bootstrap: str, session_timeout_ms: int, repair_after_s: float
) -> None:
    """Start every subscriber at once and wait for all; while some have not started
    after ``repair_after_s`` seconds (a group consumer's start waits for its partitions),
    ask each of their groups' coordinator, once per wait, whether it holds the group
    for a leader that left (:func:`cachalot_common.group_repair.release_departed_leader`,
    ``session_timeout_ms`` the groups' session) and free it. A failed look is logged
    and tried again after the next wait. A start's error is raised, the other starts
    cancelled."""
    pending = {asyncio.ensure_future(s.start()): s for s in subscribers}
    try:
        while pending:
            done, _ = await asyncio.wait(pending, timeout=repair_after_s)
            for task in done:
                del pending[task]
                task.result()
            groups: dict[str, set[str]] = {}
            for subscriber in pending.values():
                group = getattr(subscriber, "group_id", None)
                if group:
                    groups.setdefault(group, set()).update(_topic_names(subscriber))
            if groups:
                logger.warning(
                    "consumers of %s not started after %.0fs; asking their coordinator",
                    ", ".join(sorted(groups)),
                    repair_after_s,
                )
            await asyncio.gather(
                *(
                    _repair(bootstrap, group, topics, session_timeout_ms)
                    for group, topics in groups.items()
                )
            )
    finally:
        for task in pending:
            task.cancel()


def _topic_names(subscriber: Any) -> set[str]:
    return {str(getattr(t, "name", t)) for t in getattr(subscriber, "topics", ()) or ()}


async def _repair(bootstrap: str, group: str, topics: set[str], session_timeout_ms: int) -> None:
    try:
        await release_departed_leader(
            bootstrap, group, topics, session_timeout_ms=session_timeout_ms
        )
    except Exception as error:  # the next wait tries again
        logger.warning("consumer group %s: could not ask its coordinator (%r)", group, error)


async def restart_subscribers(
    subscribers: Iterable[Any],
    *,
    timeout_s: float = RESTART_TIMEOUT_S,
    start: Callable[[list[Any]], Awaitable[None]] | None = None,
    start_timeout_s: float | None = None,
) -> float:
    """Stop every subscriber at once (each given ``timeout_s`` seconds, then left), then
    start them all at once (one rebalance, not one each; ``start`` starts the list, by
    default each one's ``start()`` gathered); the seconds the stops took.
    Raises ``TimeoutError`` when the start takes longer than ``start_timeout_s`` (default
    ``timeout_s``), and
    ``ConnectionError`` when a start ends in a ``CancelledError`` nobody asked for (the
    caller tries again either way)."""
    subscribers = list(subscribers)
    began = time.monotonic()
    await stop_subscribers(subscribers, timeout_s=timeout_s)
    stopped = time.monotonic() - began
    try:
        starting = (
            start(subscribers)
            if start is not None
            else asyncio.gather(*(subscriber.start() for subscriber in subscribers))
        )
        await asyncio.wait_for(starting, timeout=start_timeout_s or timeout_s)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        # aiokafka can end a start in the CancelledError of one of its own tasks (seen
        # on a stop with the broker gone). Raised as it is, it ended the broker watch's
        # task without a word: consumers left stopped for good, readiness red, nothing
        # committed again (issue 11, the fault suite's "restarting consumers" never
        # followed by "consumers restarted"). As an error, the next probe tries again.
        raise ConnectionError("a consumer's start was cancelled from within") from None
    return stopped
