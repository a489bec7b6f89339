"""The relay: the log is the outbox, and this publishes it to Kafka.

It reads durable lines after its cursor, publishes each record's event to
``contact.submitted.v1`` (key and event id = submission id), and only then
moves the cursor. A crash anywhere in between means those events are
published again after the restart: at least once, never lost. It wakes when
the writer makes new lines durable: at the writer's signal when both run in
one process (:class:`~cachalot_contact.log.ContactLog`), by polling the
writer's durable mark from a process of its own
(:class:`~cachalot_contact.tail.LogTail`). While the broker is down it
retries with capped exponential backoff, keeping its place.

Publishing is batched: the relay takes every durable line after its cursor
at once (waiting ``linger`` seconds after it wakes, so a burst of submissions
travels together), hands every event to the producer and then awaits all the
acknowledgements; only the events that failed are retried. Per event this
costs a fraction of publishing one by one (``bench/contact_intake.py``).

The cursor file is saved at most every ``save_interval`` (0.5 s) while events
flow, when the relay falls idle, and when it stops: each save costs two
fsyncs that would otherwise compete with the log's own on every batch. A
SIGKILL can therefore republish up to that half second of events, which
at-least-once delivery and the notifier's dedupe by event id absorb.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from cachalot_common.kafka import build_broker
from cachalot_common.settings import KafkaSettings
from cachalot_common.topics import CONTACT_SUBMITTED
from cachalot_contact.cursor import Cursor, CursorFile

logger = logging.getLogger(__name__)

_EVENT_START = b'{"event":'
_HASH_KEY = b',"hash":"'


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One event as it goes on the topic: key = submission id, value = the event's JSON."""

    key: bytes
    value: bytes


def outgoing(raw: bytes) -> tuple[int, Outgoing]:
    """The line number and the message of one log line (without its newline).

    The value is the event exactly as the log holds it (its canonical JSON,
    which is a valid ``ContactSubmitted``), cut out of the line rather than
    parsed and serialised again; the chain already vouches for it.
    """
    record = json.loads(raw)
    end = raw.rfind(_HASH_KEY)
    if not raw.startswith(_EVENT_START) or end == -1:
        raise ValueError("not in the log's canonical form")
    return int(record["seq"]), Outgoing(
        key=str(record["event"]["event_id"]).encode(), value=raw[len(_EVENT_START) : end]
    )


class DurableLog(Protocol):
    """What the relay reads: the log in this process, or its tail from another."""

    @property
    def durable_offset(self) -> int: ...

    async def wait_beyond(self, offset: int) -> None: ...

    def read_durable(self, offset: int, limit: int = 1 << 20) -> bytes: ...

    def is_line_start(self, offset: int) -> bool: ...


class EventPublisher(Protocol):
    """Where the relay sends events: Kafka in production, a fake in unit tests."""

    async def connect(self) -> None: ...

    async def publish_many(self, events: Sequence[Outgoing]) -> Sequence[BaseException | None]:
        """Publish every event; one outcome per event (``None`` = acknowledged)."""
        ...


async def probe_bootstrap(bootstrap: str) -> None:
    """Fail fast while no bootstrap server accepts connections.

    A failed producer start leaves an unclosed aiokafka producer behind, so
    the relay only tries once some server is listening.
    """
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            async with asyncio.timeout(2.0):
                _, writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except (OSError, ValueError, TimeoutError):
            continue
        writer.close()
        return
    raise ConnectionError(f"no Kafka bootstrap server is reachable ({bootstrap})")


_HEADERS = [("content-type", b"application/json")]


class KafkaEventPublisher:
    """Publishes with one aiokafka producer: send every event, then await every ack.

    The same producer settings as ``cachalot_common.kafka.build_broker``
    (``acks=all``, idempotence from the setting), without FastStream's
    per-message machinery, which cost about three times the producer's own
    CPU per event. Used when no traces are exported; with traces the relay
    publishes through FastStream (:class:`BrokerEventPublisher`) so its
    telemetry middleware makes the spans and trace headers.
    """

    def __init__(self, settings: KafkaSettings, *, client_id: str) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.client_id = client_id
        self.idempotence = settings.kafka_idempotence
        self._producer: AIOKafkaProducer | None = None

    async def connect(self) -> None:
        if self._producer is None:
            await probe_bootstrap(self.bootstrap)
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                acks="all",
                enable_idempotence=self.idempotence,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer

    async def publish_many(self, events: Sequence[Outgoing]) -> Sequence[BaseException | None]:
        producer = self._producer
        if producer is None:
            raise ConnectionError("the Kafka producer is not connected")
        acks: list[asyncio.Future[object]] = []
        for event in events:
            try:
                acks.append(
                    await producer.send(
                        CONTACT_SUBMITTED, event.value, key=event.key, headers=_HEADERS
                    )
                )
            except Exception as error:  # the rest was not handed over: all of it retries
                failed: asyncio.Future[object] = asyncio.get_running_loop().create_future()
                failed.set_exception(error)
                acks.extend([failed] * (len(events) - len(acks)))
                break
        results = await asyncio.gather(*acks, return_exceptions=True)
        return [r if isinstance(r, BaseException) else None for r in results]

    async def ready(self) -> bool:
        """The broker answers a metadata request (readiness)."""
        if self._producer is None:
            return False
        try:
            async with asyncio.timeout(1.5):
                await self._producer.client.fetch_all_metadata()
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


class BrokerEventPublisher:
    """Publishes through the service's FastStream broker (traced), one event at a time."""

    def __init__(self, broker: KafkaBroker, *, bootstrap: str) -> None:
        self.broker = broker
        self.bootstrap = bootstrap
        self._connected = False

    async def connect(self) -> None:
        if not self._connected:
            await probe_bootstrap(self.bootstrap)
            try:
                await self.broker.start()
            except BaseException:
                await self.broker.stop()
                raise
            self._connected = True

    async def publish_many(self, events: Sequence[Outgoing]) -> Sequence[BaseException | None]:
        results = await asyncio.gather(
            *(
                self.broker.publish(
                    e.value,
                    topic=CONTACT_SUBMITTED,
                    key=e.key,
                    headers={"content-type": "application/json"},
                )
                for e in events
            ),
            return_exceptions=True,
        )
        return [r if isinstance(r, BaseException) else None for r in results]

    async def ready(self) -> bool:
        """The broker answers a ping (readiness)."""
        return self._connected and bool(await self.broker.ping(timeout=1.5))

    async def close(self) -> None:
        await self.broker.stop()
        self._connected = False


def kafka_publisher(
    settings: KafkaSettings, *, client_id: str, tracer_provider: TracerProvider | None = None
) -> KafkaEventPublisher | BrokerEventPublisher:
    """The relay's Kafka publisher: traced through FastStream when traces are exported."""
    if tracer_provider is not None:
        broker = build_broker(settings, client_id=client_id, tracer_provider=tracer_provider)
        return BrokerEventPublisher(broker, bootstrap=settings.kafka_bootstrap)
    return KafkaEventPublisher(settings, client_id=client_id)


class PublishFailed(Exception):
    """Some events of a batch were not acknowledged by the broker."""


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.warning("relay: broker unavailable (%s); retrying in %.1fs", error, wait)


class Relay:
    """Publishes every durable record after the cursor, in order of the log."""

    def __init__(
        self,
        log: DurableLog,
        cursor_file: CursorFile,
        publisher: EventPublisher,
        *,
        max_backoff: float = 5.0,
        batch_bytes: int = 1 << 20,
        save_interval: float = 0.5,
        linger: float = 0.005,
    ) -> None:
        self.log = log
        self.cursor_file = cursor_file
        self.publisher = publisher
        self.max_backoff = max_backoff
        self.batch_bytes = batch_bytes
        self.save_interval = save_interval
        self.linger = linger
        self.cursor = Cursor()
        self.acknowledged_at: float | None = None
        """Unix time the broker last acknowledged a batch (an answer, for readiness)."""

    def _start_cursor(self) -> Cursor:
        cursor = self.cursor_file.load()
        if not self.log.is_line_start(cursor.offset):
            logger.warning(
                "relay cursor %s is not a line start of the log: publishing from the top",
                cursor,
            )
            return Cursor()
        return cursor

    async def run(self) -> None:
        """Publish forever (cancel to stop; the cursor is saved on the way out)."""
        self.cursor = await asyncio.to_thread(self._start_cursor)
        if self.cursor.offset < self.log.durable_offset:
            logger.info("relay: resuming after line %d", self.cursor.seq)
        await self._retrying(self.publisher.connect)  # connected early: readiness shows it
        saved, saved_at = self.cursor, time.monotonic()
        try:
            while True:
                if self.log.durable_offset <= self.cursor.offset:
                    if self.cursor != saved:
                        due = saved_at + self.save_interval - time.monotonic()
                        try:
                            async with asyncio.timeout(max(due, 0.0)):
                                await self.log.wait_beyond(self.cursor.offset)
                        except TimeoutError:
                            saved, saved_at = await self._save(), time.monotonic()
                            continue
                    else:
                        await self.log.wait_beyond(self.cursor.offset)
                    await asyncio.sleep(self.linger)  # let the rest of a burst arrive
                data = self.log.read_durable(self.cursor.offset, self.batch_bytes)
                if data:
                    await self._publish_batch(data)
                if time.monotonic() - saved_at >= self.save_interval:
                    saved, saved_at = await self._save(), time.monotonic()
        finally:
            if self.cursor != saved:
                self.cursor_file.save(self.cursor)  # on the way out: blocking is fine

    async def _save(self) -> Cursor:
        cursor = self.cursor
        await asyncio.to_thread(self.cursor_file.save, cursor)
        return cursor

    async def _publish_batch(self, data: bytes) -> None:
        events: list[Outgoing] = []
        last_seq = self.cursor.seq
        for raw in data.splitlines():
            try:
                last_seq, message = outgoing(raw)
                events.append(message)
            except (ValueError, KeyError, TypeError) as error:
                logger.error(
                    "relay: line after %d of the log is not a record (%s); skipped, "
                    "run `python -m cachalot_contact verify`",
                    last_seq,
                    error,
                )
        try:
            await self._publish_all(events)  # the common case: no retry machinery
        except Exception:
            await self._retrying(lambda: self._publish_all(events))
        self.acknowledged_at = time.time()
        self.cursor = Cursor(offset=self.cursor.offset + len(data), seq=last_seq)

    async def _retrying(self, action: Callable[[], Awaitable[None]]) -> None:
        """Run ``action`` until it succeeds, backing off exponentially (capped)."""
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(initial=0.1, max=self.max_backoff),
            before_sleep=_log_retry,
            reraise=True,
        ):
            with attempt:
                await action()

    async def _publish_all(self, events: list[Outgoing]) -> None:
        """Publish the batch; raise if any failed, keeping only those for the retry."""
        if not events:
            return
        await self.publisher.connect()
        results = await self.publisher.publish_many(events)
        failed = [e for e, r in zip(events, results, strict=True) if r is not None]
        if failed:
            first = next(r for r in results if r is not None)
            count = len(events)
            events[:] = failed
            raise PublishFailed(f"{len(failed)} of {count} events: {first!r}") from None


async def drain(relay: Relay, task: asyncio.Task[None], seconds: float) -> None:
    """Give the relay up to ``seconds`` to publish what is durable, then stop it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while relay.cursor.offset < relay.log.durable_offset and loop.time() < deadline:
        if task.done():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
