"""Whether a Kafka broker's acknowledgement can be trusted: the outbox relay's check.

Tansu (embedded mode, memory only) acknowledges a record sent to a topic it
does not have, without creating the topic; when the topic is created
afterwards (by a broker watch ensuring topics, :mod:`cachalot_common.topic_plan`)
its high watermark starts again at 0, so the acknowledged record is never
served (issue 11: contact messages sent while the broker restarted were
acknowledged, the relay moved on, and the operator never got them; the topic's
end offsets said 1, reading from 0 returned nothing). A producer whose
metadata predates the restart sends exactly such records: it does not ask
again before sending to a partition it knows.

:class:`KafkaAckCheck` is the relay's :class:`~cachalot_common.outbox.AckCheck`:

* before a batch, the topics must exist (where topics are ensured,
  ``CACHALOT_KAFKA_ENSURE_TOPICS``, missing ones are created first, and one with
  fewer partitions than planned is raised to its plan or the batch fails with
  :class:`~cachalot_common.topic_plan.TopicPlanError` naming it), and the
  check pins its connections to the broker (one TCP connection per node);
* after the acknowledgements, a metadata request (which creates nothing) must
  still list every topic, a fetch at each partition's last acknowledged offset
  (the read back) must be answered with a high watermark past it (Kafka's and
  Tansu's fetch answer from the watermark: a record it will not serve fails
  here), and the
  pinned connections must be the same live ones: a broker that restarted in
  between (a new incarnation) closed them. Kafka's protocol as aiokafka speaks
  it (metadata v5) gives no topic ids or leader epochs, and Tansu keeps its
  cluster id across restarts, so the connection is the incarnation here.

Anything not confirmed raises :class:`~cachalot_common.outbox.UntrustedAck`:
the relay does not mark the batch and sends it again (consumers dedupe on
``event_id``). Costs one metadata request and one fetch (a batch a partition) per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest
from aiokafka.structs import TopicPartition

from cachalot_common.outbox import Acked, Outgoing, UntrustedAck
from cachalot_common.record_identity import RecordCheck, RecordMark
from cachalot_common.settings import KafkaSettings
from cachalot_common.topic_plan import PARTITIONS, ensure_topics, planned_partitions

logger = logging.getLogger(__name__)

READ_BACK_WAIT_MS = 200
"""How long the read-back fetch may wait for a record that is not there (a record that
is there is answered at once; Tansu answers nothing at all to a fetch that may not wait)."""


class KafkaAckCheck:
    """The :class:`~cachalot_common.outbox.AckCheck` for a Kafka broker (see the module).

    ``bootstrap``: the broker list; ``ensure``: create missing topics before a batch
    (the plan's partition counts, :data:`~cachalot_common.topic_plan.PARTITIONS` for
    a topic not in the plan); ``timeout_s``: the longest each request may take.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        ensure: bool,
        plan: Mapping[str, int] | None = None,
        timeout_s: float = 5.0,
        client_id: str = "cachalot-outbox-check",
    ) -> None:
        self.bootstrap = bootstrap
        self.ensure = ensure
        self.plan = dict(plan) if plan is not None else planned_partitions()
        self.timeout_s = timeout_s
        self.client_id = client_id
        self._client: AIOKafkaClient | None = None
        self._admin: AIOKafkaAdminClient | None = None  # consumed()'s, kept between polls
        self._pinned: dict[Any, Any] = {}
        self._known: set[str] = set()  # topics seen on the pinned connections
        self._lost = False  # a pinned connection closed since the last confirmation

    async def before(self, topics: Collection[str]) -> None:
        """Make sure ``topics`` exist and pin the connections this batch is judged by."""
        self._notice_loss()
        client = await self._started()
        live = self._live(client)
        if live and live == self._pinned and set(topics) <= self._known:
            return  # same connections (same broker), topics already seen on them
        try:
            async with asyncio.timeout(self.timeout_s):
                counts = await self._partition_counts(client)
                missing = sorted(set(topics) - set(counts))
                # fewer partitions than planned: records keyed to the plan have no partition
                short = sorted(t for t in topics if 0 < counts.get(t, 0) < self.plan.get(t, 0))
                if (missing or short) and self.ensure:
                    plan = {**self.plan, **{t: self.plan.get(t, PARTITIONS) for t in missing}}
                    # raises TopicPlanError, naming them, for topics it cannot raise
                    created = await ensure_topics(self.bootstrap, plan)
                    logger.warning("outbox: the broker lacked topics; created %s", created)
                present = await self._topics(client)
        except Exception:
            await self.close()
            raise
        self._known = present
        self._pinned = self._live(client)

    async def confirm(self, acks: Sequence[Acked]) -> None:
        """Raise :class:`UntrustedAck` unless every acknowledged record is served by the
        broker :meth:`before` saw (see the module docstring)."""
        self._notice_loss()
        client = await self._started()
        pinned = self._pinned
        try:
            async with asyncio.timeout(self.timeout_s):
                await self._confirm(client, acks)
        except UntrustedAck:
            self._known = set()
            raise
        except Exception as error:
            await self.close()
            raise UntrustedAck(f"acknowledgements not confirmed ({error!r})") from error
        live = self._live(client)
        if not pinned or any(live.get(key) is not conn for key, conn in pinned.items()):
            self._known = set()
            raise UntrustedAck("the broker connection was replaced during the batch (restart?)")
        self._lost = False

    async def consumed(self, acks: Sequence[Acked]) -> set[Acked]:
        """Those of ``acks`` every consumer group reading their topic has committed past.

        The readers of a topic are the groups the broker lists (ListGroups) with a
        committed offset on any partition of it (OffsetFetch, one request a group);
        a topic no group reads yet has nothing consumed."""
        if not acks:
            return set()
        client = await self._started()
        async with asyncio.timeout(self.timeout_s):
            metadata = await client.fetch_all_metadata()
        partitions = sorted(
            TopicPartition(topic, partition)
            for topic in {a.topic for a in acks}
            for partition in metadata.partitions_for_topic(topic) or ()
        )
        admin = await self._admin_started()
        try:
            async with asyncio.timeout(self.timeout_s * 4):
                groups = [group for group, *_ in await admin.list_consumer_groups()]
                committed = [
                    {
                        tp: meta.offset
                        for tp, meta in (
                            await admin.list_consumer_group_offsets(group, partitions=partitions)
                        ).items()
                    }
                    for group in groups
                ]
        except BaseException:
            await self._close_admin()  # the next poll starts a new one
            raise
        readers: dict[str, list[dict[TopicPartition, int]]] = defaultdict(list)
        for offsets in committed:
            for topic in {tp.topic for tp, offset in offsets.items() if offset >= 0}:
                readers[topic].append(offsets)
        return {
            ack
            for ack in acks
            if readers[ack.topic]
            and all(
                offsets.get(TopicPartition(ack.topic, ack.partition), -1) > ack.offset
                for offsets in readers[ack.topic]
            )
        }

    async def served(self, records: Sequence[tuple[Acked, Outgoing]]) -> set[Acked]:
        """Those of ``records`` the broker serves now at their offsets with their own key
        and payload (read back by :class:`~cachalot_common.record_identity.RecordCheck`,
        the readers' check too; not read in time: not served); the check is pinned to the
        broker there now, so :meth:`lost` is false afterwards."""
        await self.close()
        client = await self._started()
        async with asyncio.timeout(self.timeout_s):
            await self._topics(client)
        marks = {
            RecordMark.sent(a.topic, a.partition, a.offset, e.key.encode(), e.payload): a
            for a, e in records
        }
        reader = RecordCheck(self.bootstrap, client_id=self.client_id, timeout_s=self.timeout_s)
        try:
            held = await reader.held(marks)
        finally:
            await reader.close()
        self._pinned = self._live(client)
        self._known = set()
        self._lost = False
        return {marks[mark] for mark in held}

    def lost(self) -> bool:
        """A connection the last confirmation was made on has closed since (the broker
        restarted, or it was idle for aiokafka's ``connections_max_idle_ms``); true until
        the next confirmation."""
        self._notice_loss()
        return self._lost

    def _notice_loss(self) -> None:
        if any(not conn.connected() for conn in self._pinned.values()):
            self._lost = True

    async def close(self) -> None:
        """Close the check's client (a later call starts a new one)."""
        self._notice_loss()  # a broker that went is remembered across the new client
        client, self._client = self._client, None
        self._pinned, self._known = {}, set()
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        await self._close_admin()

    async def _admin_started(self) -> AIOKafkaAdminClient:
        """The admin client :meth:`consumed` asks with: one, kept between polls (the relay
        polls every few seconds while batches are kept) until an error or :meth:`close`."""
        if self._admin is None:
            admin = AIOKafkaAdminClient(**self._client_options())
            self._admin = await _opened(admin, admin.start)
        return self._admin

    async def _close_admin(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()

    async def _confirm(self, client: AIOKafkaClient, acks: Sequence[Acked]) -> None:
        metadata = await client.fetch_all_metadata()
        topics = set(metadata.topics())
        missing = sorted({a.topic for a in acks} - topics)
        if missing:
            raise UntrustedAck(f"acknowledged by a broker without {', '.join(missing)}")
        last: dict[TopicPartition, int] = {}
        for ack in acks:
            tp = TopicPartition(ack.topic, ack.partition)
            last[tp] = max(last.get(tp, -1), ack.offset)
        by_leader: dict[int, dict[str, list[tuple[int, int, int]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for tp, offset in last.items():
            leader = metadata.leader_for_partition(tp)
            if leader is None or leader < 0:
                raise UntrustedAck(f"{tp.topic}[{tp.partition}] has no leader")
            # read back at the last acknowledged offset: served at once when it is there
            by_leader[leader][tp.topic].append((tp.partition, offset, 1))
        for leader, wanted in by_leader.items():
            request = FetchRequest(READ_BACK_WAIT_MS, 1, 1, 0, list(wanted.items()))
            response = await client.send(leader, request)
            answered: set[TopicPartition] = set()
            for topic, partitions in response.topics:
                for partition, error_code, high, *_ in partitions:
                    tp = TopicPartition(topic, partition)
                    answered.add(tp)
                    if error_code != 0 or high <= last.get(tp, high):
                        raise UntrustedAck(
                            f"{topic}[{partition}] serves up to {high} (error {error_code}), "
                            f"{last.get(tp, -1) + 1} acknowledged: the records are not there"
                        )
            asked = {TopicPartition(t, p[0]) for t, ps in wanted.items() for p in ps}
            if asked - answered:
                raise UntrustedAck(f"no read-back answer for {sorted(asked - answered)}")

    async def _topics(self, client: AIOKafkaClient) -> set[str]:
        return set(await self._partition_counts(client))

    async def _partition_counts(self, client: AIOKafkaClient) -> dict[str, int]:
        # a metadata request for every topic: it creates none (aiokafka's per-topic
        # request would let the broker auto-create)
        metadata = await client.fetch_all_metadata()
        return {t: len(metadata.partitions_for_topic(t) or ()) for t in metadata.topics()}

    async def _started(self) -> AIOKafkaClient:
        if self._client is None:
            client = AIOKafkaClient(**self._client_options())
            self._client = await _opened(client, client.bootstrap)
        return self._client

    def _client_options(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap,
            "client_id": self.client_id,
            "request_timeout_ms": int(self.timeout_s * 1000),
        }

    @staticmethod
    def _live(client: AIOKafkaClient) -> dict[Any, Any]:
        """The client's open connections to brokers it knows by id (not the bootstrap one)."""
        return {
            key: conn
            for key, conn in client._conns.items()
            if isinstance(key[0], int) and conn.connected()
        }


Opened = TypeVar("Opened", AIOKafkaClient, AIOKafkaAdminClient)


async def _opened(client: Opened, open_: Callable[[], Awaitable[Any]]) -> Opened:
    """``client`` once ``open_()`` returned; closed (and the error raised) when it failed."""
    try:
        await open_()
    except BaseException:
        with contextlib.suppress(Exception):
            await client.close()
        raise
    return client


def ack_check(settings: KafkaSettings, *, broker: object | None = None) -> KafkaAckCheck | None:
    """The check for a relay publishing to ``settings``' Kafka; ``None`` when it publishes
    through FastStream's in-memory ``TestKafkaBroker`` (``broker``), which has no broker
    to read back from. Missing topics are created where ``CACHALOT_KAFKA_ENSURE_TOPICS``."""
    if broker is not None:
        from cachalot_common.kafka import in_memory

        if in_memory(broker):  # type: ignore[arg-type]
            return None
    return KafkaAckCheck(settings.kafka_bootstrap, ensure=settings.kafka_ensure_topics)
