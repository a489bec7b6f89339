"""The relay: the log is the outbox, and this publishes it to Kafka.

It reads durable lines after its cursor, publishes each record's event to
``contact.submitted.v1`` (key and event id = submission id), and only then
moves the cursor. A crash anywhere in between means those events are
published again after the restart: at least once, never lost. It wakes as
soon as the writer makes new lines durable (no polling), and while the broker
is down it retries with capped exponential backoff, keeping its place.

The cursor file is saved at most every ``save_interval`` (0.5 s) while events
flow, when the relay falls idle, and when it stops: each save costs two
fsyncs that would otherwise compete with the log's own on every batch. A
SIGKILL can therefore republish up to that half second of events, which
at-least-once delivery and the notifier's dedupe by event id absorb.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from faststream.kafka import KafkaBroker
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from cachalot_common.events import ContactSubmitted
from cachalot_common.kafka import publish_event
from cachalot_common.topics import CONTACT_SUBMITTED
from cachalot_contact.cursor import Cursor, CursorFile
from cachalot_contact.log import ContactLog

logger = logging.getLogger(__name__)


class EventPublisher(Protocol):
    """Where the relay sends events: Kafka in production, a fake in unit tests."""

    async def connect(self) -> None: ...

    async def publish(self, event: ContactSubmitted) -> None: ...


class KafkaEventPublisher:
    """Publishes through the service's FastStream broker, (re)connecting on demand."""

    def __init__(self, broker: KafkaBroker, *, bootstrap: str) -> None:
        self.broker = broker
        self.bootstrap = bootstrap
        self._connected = False

    async def connect(self) -> None:
        if not self._connected:
            await self._probe()
            try:
                await self.broker.start()
            except BaseException:
                await self.broker.stop()
                raise
            self._connected = True

    async def _probe(self) -> None:
        """Fail fast while no bootstrap server accepts connections.

        A failed ``broker.start()`` leaves an unclosed aiokafka producer
        behind, so the relay only tries once some server is listening.
        """
        for server in self.bootstrap.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                async with asyncio.timeout(2.0):
                    _, writer = await asyncio.open_connection(host.strip("[]"), int(port))
            except (OSError, ValueError, TimeoutError):
                continue
            writer.close()
            return
        raise ConnectionError(f"no Kafka bootstrap server is reachable ({self.bootstrap})")

    async def publish(self, event: ContactSubmitted) -> None:
        await publish_event(self.broker, CONTACT_SUBMITTED, event, key=str(event.event_id))


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
        log: ContactLog,
        cursor_file: CursorFile,
        publisher: EventPublisher,
        *,
        max_backoff: float = 5.0,
        batch_bytes: int = 1 << 20,
        save_interval: float = 0.5,
    ) -> None:
        self.log = log
        self.cursor_file = cursor_file
        self.publisher = publisher
        self.max_backoff = max_backoff
        self.batch_bytes = batch_bytes
        self.save_interval = save_interval
        self.cursor = Cursor()

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
        events: list[ContactSubmitted] = []
        last_seq = self.cursor.seq
        for raw in data.splitlines():
            try:
                record = json.loads(raw)
                last_seq = int(record["seq"])
                events.append(ContactSubmitted.model_validate(record["event"]))
            except (ValueError, KeyError, TypeError) as error:
                logger.error(
                    "relay: line after %d of the log is not a record (%s); skipped, "
                    "run `python -m cachalot_contact verify`",
                    last_seq,
                    error,
                )
        await self._retrying(lambda: self._publish_all(events))
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

    async def _publish_all(self, events: list[ContactSubmitted]) -> None:
        """Publish concurrently; raise if any failed, keeping only those for the retry."""
        await self.publisher.connect()
        results = await asyncio.gather(
            *(self.publisher.publish(event) for event in events), return_exceptions=True
        )
        failed = [e for e, r in zip(events, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            first = next(r for r in results if isinstance(r, BaseException))
            events[:] = failed
            raise PublishFailed(f"{len(failed)} of {len(results)} events: {first!r}") from None
