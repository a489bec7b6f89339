"""Kafka wiring on FastStream, the same for Apache Kafka and the embedded Tansu.

* producers wait for ``acks=all``; idempotence follows the setting (Tansu
  rejects idempotent producers, so embedded mode turns it off);
* consumers are registered with the kit in :mod:`cachalot_common.consuming`
  (decode or dead-letter, acknowledge after success, recover after the
  broker lost everything); the broker's default stays ``NACK_ON_ERROR`` for
  any subscriber built by hand;
* FastStream's telemetry middleware carries W3C trace context in headers;
  a fetch of several records gets no span of its own from it (see
  :func:`record_spans_only`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry.provider import KafkaTelemetrySettingsProvider
from faststream.kafka.response import KafkaPublishCommand
from faststream.opentelemetry.middleware import TelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from pydantic import BaseModel

from cachalot_common.settings import KafkaSettings

logger = logging.getLogger(__name__)


def record_spans_only(record: Any) -> KafkaTelemetrySettingsProvider | None:
    """FastStream's telemetry settings for one consumed ``record`` (or a publish, None);
    None, so no span, for a fetch of several records (a sequence).

    FastStream opens a batch's ``<topic> create``/``process`` spans in a new trace of
    their own (the records' traces only linked): every batch consumer started one
    trace per fetch, and whatever ran under it (SQL, sends) left the post's trace
    (issue 13 item 4). The consumer kit (:mod:`cachalot_common.consuming`) and the
    publishing runtime open each record's span in the trace the record carries instead.
    """
    if isinstance(record, (list, tuple)):
        return None
    return KafkaTelemetrySettingsProvider()


def build_broker(
    settings: KafkaSettings,
    *,
    client_id: str,
    tracer_provider: TracerProvider | None = None,
) -> KafkaBroker:
    """A broker configured for at-least-once delivery with traces across Kafka."""
    middlewares = []
    if tracer_provider is not None:
        middlewares.append(
            TelemetryMiddleware[KafkaPublishCommand](
                settings_provider_factory=record_spans_only,
                tracer_provider=tracer_provider,
                include_messages_counters=True,
            )
        )
    return KafkaBroker(
        settings.kafka_bootstrap,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.kafka_idempotence,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        middlewares=middlewares,
        logger=logging.getLogger(f"faststream.{client_id}"),
        graceful_timeout=10.0,
    )


#: A commit not confirmed within this long (seconds) counts as refused, when no group
#: session is given (Kafka's default ``session.timeout.ms``).
DEFAULT_COMMIT_TIMEOUT_S = 45.0


def commit_timeout_s(session_timeout_ms: int | None) -> float:
    """Seconds an offset commit may take before it counts as refused: the consumer group's
    session (``session_timeout_ms``, milliseconds; a commit not confirmed within it is for
    a group that has moved on), or :data:`DEFAULT_COMMIT_TIMEOUT_S` when none is given.

    The one bound of every commit: the kit's subscribers
    (:mod:`cachalot_common.consuming`, from their ``session_timeout_ms`` option) and the
    publishing runtime (from ``kafka_session_timeout_ms``).
    """
    return session_timeout_ms / 1000 if session_timeout_ms else DEFAULT_COMMIT_TIMEOUT_S


Membership = tuple[int, str]
"""A group consumer's membership: (generation, member id)."""

MEMBERSHIP_CHECK_S = 0.005
"""How often (seconds) a commit under way looks whether its consumer is still the member
it was (:func:`commit_as_member`): less than aiokafka's pause between two tries (0.1 s)."""


def group_membership(consumer: AIOKafkaConsumer) -> Membership | None:
    """The (generation, member id) ``consumer`` holds in its group now; None while it holds
    none (a broker that no longer knew the member made aiokafka forget it: generation -1,
    no member id, until its next join).

    Read from aiokafka's group coordinator (``_coordinator``: aiokafka offers no public
    way to ask), the one place in CACHALOT that does.
    """
    coordinator = getattr(consumer, "_coordinator", None)
    generation = getattr(coordinator, "generation", -1)
    member = getattr(coordinator, "member_id", "")
    if not isinstance(generation, int) or generation < 0 or not member:
        return None
    return generation, str(member)


async def commit_as_member(
    consumer: AIOKafkaConsumer,
    commit: Callable[[], Awaitable[Any]],
    membership: Membership | None,
    *,
    timeout_s: float,
) -> None:
    """Run ``commit`` (a commit through ``consumer``) only as ``membership`` (default:
    the consumer's membership now): never as no member, never as another.

    aiokafka retries a commit through a broker that went away, and each try is sent as
    the membership the consumer holds *then*; once the broker answers again not knowing
    the member, aiokafka forgets it (generation -1) and the next try goes out as a commit
    of no member, which a broker accepts into any group, whatever log it now holds. Through
    a broker that came back empty, the old log's offsets became the new group's positions
    and the records below them in the new log were never read (issue 11, the s10 landing
    failure of ``test_broker_lost_everything``). So the commit is not started without the
    membership, and is cancelled, between aiokafka's tries, once the consumer no longer
    holds it.

    Raises aiokafka's ``CommitFailedError`` when the membership is not (or no longer)
    held, ``TimeoutError`` after ``timeout_s`` seconds, and what ``commit`` raised.
    """
    held = group_membership(consumer)
    wanted = membership if membership is not None else held
    if wanted is None or held != wanted:
        raise CommitFailedError(f"not a member of generation {wanted} of the group now: {held}")
    task = asyncio.ensure_future(commit())
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=MEMBERSHIP_CHECK_S)
            if done:
                task.result()
                return
            now_held = group_membership(consumer)
            if now_held != wanted:
                raise CommitFailedError(
                    f"the consumer left generation {wanted} during the commit: {now_held}"
                )
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(f"offset commit not confirmed in {timeout_s} s")
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def consumer_options(settings: KafkaSettings) -> dict[str, Any]:
    """Subscriber options every consumer shares: group timing, where a new group starts."""
    session = settings.kafka_session_timeout_ms
    return {
        "auto_offset_reset": "earliest",
        "session_timeout_ms": session,
        "heartbeat_interval_ms": max(100, session // 3),
        "max_poll_interval_ms": settings.kafka_max_poll_interval_ms,
    }


def in_memory(broker: KafkaBroker) -> bool:
    """True under FastStream's ``TestKafkaBroker`` (no broker to connect to or watch)."""
    from faststream.kafka.testing import FakeProducer

    return isinstance(getattr(broker.config, "producer", None), FakeProducer)


async def start_broker(
    broker: KafkaBroker, start: Callable[[list[Any]], Awaitable[None]] | None = None
) -> None:
    """Connect and start every subscriber at once, not one after another.

    A group consumer's start waits for its partition assignment, and a
    broker may hold each join for seconds (Tansu: about five). FastStream's
    own ``start()`` starts subscribers in sequence, so a service with four
    subscriptions would wait four times; started together it waits once.

    Under ``TestKafkaBroker`` the broker's own (patched) ``start()`` is used:
    a subscriber's ``start()`` would run a consume loop on FastStream's
    ``FakeConsumer``, which has no ``getone``; it fails at once and
    FastStream's task supervisor restarts it without end (a busy loop).

    ``start``: what starts the list of subscribers (all at once); by default each
    one's ``start()`` gathered (:class:`cachalot_common.consuming.BrokerWatch` passes
    one that also frees a group its coordinator holds, see
    :mod:`cachalot_common.group_repair`).
    """
    if in_memory(broker):
        await broker.start()
        return
    await broker.connect()
    subscribers = list(broker.subscribers)
    if start is None:
        await asyncio.gather(*(subscriber.start() for subscriber in subscribers))
    else:
        await start(subscribers)
    for publisher in broker.publishers:
        await publisher.start()
    broker.running = True


def encode(event: BaseModel) -> bytes:
    """The wire form of every event: UTF-8 JSON of the pydantic model."""
    return event.model_dump_json().encode()


async def publish_event(
    broker: KafkaBroker, topic: str, event: BaseModel, *, key: str | bytes
) -> None:
    """Publish one event and wait for the broker's acknowledgement."""
    raw_key = key.encode() if isinstance(key, str) else key
    await broker.publish(
        encode(event),
        topic=topic,
        key=raw_key,
        headers={"content-type": "application/json"},
    )
