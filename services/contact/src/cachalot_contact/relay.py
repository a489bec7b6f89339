"""The contact log as an outbox: the shared relay publishes it to Kafka.

The log is the contact service's outbox. :class:`LogSource` gives the one
relay of every service (:class:`cachalot_common.outbox.OutboxRelay`) the
durable lines after its cursor as ``contact.submitted.v1`` events (key and
event id = submission id), and moves the cursor only once the broker
acknowledged the whole batch. A crash anywhere in between means those events
are published again after the restart: at least once, in the log's order,
never lost; the notifier dedupes by event id, so the operator gets each
submission once. The source wakes when the writer makes new lines durable:
at the writer's signal when both run in one process
(:class:`~cachalot_contact.log.ContactLog`), by polling the writer's durable
mark from a process of its own (:class:`~cachalot_contact.tail.LogTail`).

Publishing is batched: a batch is every durable line after the cursor (up to
``batch_bytes`` and the relay's batch size), read ``linger`` seconds after a
wake so a burst of submissions travels together; the relay hands every event
to the producer and then awaits all the acknowledgements
(``bench/contact_intake.py``).

The cursor file is saved at most every ``save_interval`` (0.5 s) while events
flow, when the log falls quiet, and when the relay stops: each save costs two
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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.kafka import build_broker
from cachalot_common.outbox import Batch, OutboxRelay, Outgoing, Publish
from cachalot_common.settings import KafkaSettings
from cachalot_common.topics import CONTACT_SUBMITTED
from cachalot_common.wakeup import Wakeup
from cachalot_contact.cursor import Cursor, CursorFile

logger = logging.getLogger(__name__)

_EVENT_START = b'{"event":'
_HASH_KEY = b',"hash":"'


def outgoing(raw: bytes) -> tuple[int, Outgoing]:
    """The line number and the message of one log line (without its newline).

    The payload is the event exactly as the log holds it (its canonical JSON,
    which is a valid ``ContactSubmitted``), cut out of the line rather than
    parsed and serialised again; the chain already vouches for it.
    Raises ``ValueError``, ``KeyError`` or ``TypeError`` for a line that is not a record.
    """
    record = json.loads(raw)
    end = raw.rfind(_HASH_KEY)
    if not raw.startswith(_EVENT_START) or end == -1:
        raise ValueError("not in the log's canonical form")
    return int(record["seq"]), Outgoing(
        CONTACT_SUBMITTED, str(record["event"]["event_id"]), raw[len(_EVENT_START) : end]
    )


class DurableLog(Protocol):
    """What the source reads: the log in this process, or its tail from another."""

    @property
    def durable_offset(self) -> int: ...

    async def wait_beyond(self, offset: int) -> None: ...

    def read_durable(self, offset: int, limit: int = 1 << 20) -> bytes: ...

    def is_line_start(self, offset: int) -> bool: ...


class LogSource:
    """The durable lines of the contact log after the relay's cursor (an ``OutboxSource``)."""

    def __init__(
        self,
        log: DurableLog,
        cursor_file: CursorFile,
        *,
        batch_bytes: int = 1 << 20,
        save_interval: float = 0.5,
        linger: float = 0.005,
    ) -> None:
        self.log = log
        self.cursor_file = cursor_file
        self.batch_bytes = batch_bytes
        self.save_interval = save_interval
        self.linger = linger
        self.cursor = Cursor()
        """How far the broker has acknowledged (byte offset of the next line, last line)."""
        self._loaded = False
        self._saved = Cursor()
        self._saved_at = time.monotonic()

    @property
    def behind(self) -> bool:
        """Durable lines wait after the cursor."""
        return self.cursor.offset < self.log.durable_offset

    async def load(self) -> Cursor:
        """Read the saved cursor (once); one that is not a line start means the top."""
        if not self._loaded:
            cursor = await asyncio.to_thread(self.cursor_file.load)
            if not self.log.is_line_start(cursor.offset):
                logger.warning(
                    "relay cursor %s is not a line start of the log: publishing from the top",
                    cursor,
                )
                cursor = Cursor()
            elif cursor.offset < self.log.durable_offset:
                logger.info("relay: resuming after line %d", cursor.seq)
            self.cursor = self._saved = cursor
            self._loaded = True
        return self.cursor

    @contextlib.asynccontextmanager
    async def batch(self, limit: int) -> AsyncIterator[Batch]:
        start = await self.load()
        data = self.log.read_durable(start.offset, self.batch_bytes)
        events: list[Outgoing] = []
        offset, seq, taken = start.offset, start.seq, 0
        for raw in data.splitlines(keepends=True):
            if len(events) >= limit:
                break
            offset += len(raw)
            taken += 1
            try:
                seq, message = outgoing(raw.rstrip(b"\n"))
            except (ValueError, KeyError, TypeError) as error:
                logger.error(
                    "relay: line after %d of the log is not a record (%s); skipped, "
                    "run `python -m cachalot_contact verify`",
                    seq,
                    error,
                )
                continue
            events.append(message)
        end = Cursor(offset=offset, seq=seq)

        async def acknowledge() -> None:
            if self.cursor == start:  # the one relay of this log: nobody moved it meanwhile
                self.cursor = end
            if time.monotonic() - self._saved_at >= self.save_interval:
                await self._save()

        async def requeue() -> None:
            if self.cursor.offset > start.offset:  # from there again (later lines too)
                self.cursor = start

        yield Batch(events, acknowledge, taken, requeue)

    async def wait(self, wake: Wakeup, seconds: float) -> None:
        """Until the log has durable lines past the cursor (then ``linger`` more), or
        ``seconds``; a cursor not yet saved is saved when the log falls quiet."""
        if self.behind:
            return
        due = seconds
        if self.cursor != self._saved:
            due = min(seconds, max(self._saved_at + self.save_interval - time.monotonic(), 0.0))
        try:
            async with asyncio.timeout(due):
                await self.log.wait_beyond(self.cursor.offset)
        except TimeoutError:
            if self.cursor != self._saved:
                await self._save()
            return
        await asyncio.sleep(self.linger)  # let the rest of a burst arrive

    async def close(self) -> None:
        if self.cursor != self._saved:
            await self._save()

    async def _save(self) -> None:
        cursor = self.cursor
        await asyncio.to_thread(self.cursor_file.save, cursor)
        self._saved, self._saved_at = cursor, time.monotonic()


def log_relay(source: LogSource, publish: Publish, **options: Any) -> OutboxRelay:
    """The shared relay over the contact log (idle rounds at most a second apart)."""
    options.setdefault("idle_s", 1.0)
    options.setdefault("first_backoff_s", 0.1)
    return OutboxRelay(source, publish, **options)


async def connect_then_run(relay: OutboxRelay, connect: Callable[[], Awaitable[object]]) -> None:
    """Connect the producer first (readiness shows a relay that can publish before the
    first submission), retrying with the relay's backoff, then relay until cancelled."""
    pause = 0.1
    while True:
        try:
            await connect()
        except Exception as error:
            logger.warning("relay: broker unavailable (%s); retrying in %.1fs", error, pause)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
            continue
        break
    await relay.run()


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
    """A :data:`~cachalot_common.outbox.Publish` over one aiokafka producer.

    The same producer settings as ``cachalot_common.kafka.build_broker``
    (``acks=all``, idempotence from the setting), without FastStream's
    per-message machinery, which cost about three times the producer's own
    CPU per event. Used when no traces are exported; with traces the relay
    publishes through FastStream (:class:`BrokerEventPublisher`) so its
    telemetry middleware makes the spans and trace headers. Connects on the
    first publish (and again after a failed start).
    """

    def __init__(self, settings: KafkaSettings, *, client_id: str) -> None:
        self.bootstrap = settings.kafka_bootstrap
        self.client_id = client_id
        self.idempotence = settings.kafka_idempotence
        self._producer: AIOKafkaProducer | None = None
        self._connecting = asyncio.Lock()

    async def connect(self) -> AIOKafkaProducer:
        async with self._connecting:
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
            return self._producer

    async def __call__(self, topic: str, key: str, payload: bytes) -> object:
        producer = self._producer or await self.connect()
        ack = await producer.send(topic, payload, key=key.encode(), headers=_HEADERS)
        return await ack

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
    """A :data:`~cachalot_common.outbox.Publish` through a FastStream broker (traced)."""

    def __init__(self, broker: KafkaBroker, *, bootstrap: str) -> None:
        self.broker = broker
        self.bootstrap = bootstrap
        self._connected = False
        self._connecting = asyncio.Lock()

    async def connect(self) -> None:
        async with self._connecting:
            if not self._connected:
                await probe_bootstrap(self.bootstrap)
                try:
                    await self.broker.start()
                except BaseException:
                    await self.broker.stop()
                    raise
                self._connected = True

    async def __call__(self, topic: str, key: str, payload: bytes) -> object:
        """Through the broker's publish middlewares (not the producer alone, as
        :func:`~cachalot_common.outbox.kafka_publish`): a contact's event has no trace of
        its own, and FastStream's telemetry gives it a producer span to start one."""
        if not self._connected:
            await self.connect()
        return await self.broker.publish(
            payload, topic=topic, key=key.encode(), headers={"content-type": "application/json"}
        )

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
