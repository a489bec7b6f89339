"""Whether the log under an offset is still the one we read: records known by what they hold.

Tansu (embedded mode, memory only) restarted empty numbers records from 0 again, and
the protocol aiokafka speaks (metadata v5, fetch without leader epochs) gives nothing
that tells one incarnation of a log from the next. An offset alone therefore names a
place, not a record; a record is known by its place **and** what it holds
(:class:`RecordMark`: partition, offset, a digest of key and value, and its Kafka
timestamp when known). Reading a record back at its offset
(:class:`RecordCheck`) answers both questions this raises:

* the outbox relay, after a broker loss: does the broker still serve the records it
  acknowledged (:meth:`~cachalot_common.broker_acks.KafkaAckCheck.served`)?
* a reader that keeps its own offsets without a consumer group (the queue's session
  revocations and live feed, the notifier's ``sessions.v1``): does a new fetch continue
  the log it read, or did the broker come back with a new log that already grew past
  its position (issue 11: the reader fetched on at its old offset and never saw the new
  log's first records)? :class:`LogFollower` keeps the last record taken of each
  partition and checks it whenever a fetch brings records of that partition; a
  partition whose mark is gone is read again from its log's beginning by the caller.

Only public aiokafka API is used (a consumer of no group: ``assign``, ``seek``,
``getmany``, ``end_offsets``). One check costs one fetch (plus a ListOffsets request
when the caller does not know the log's end); a reader pays it once per fetch that
brought records, not per record.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import OffsetOutOfRangeError
from aiokafka.structs import TopicPartition

logger = logging.getLogger(__name__)

READ_WAIT_MS = 200
"""How long one fetch of a check may wait (a record that is there is answered at once;
Tansu answers nothing at all to a fetch that may not wait)."""

Place = tuple[TopicPartition, int]
"""A partition and an offset in it."""


def digest(key: bytes | None, value: bytes | None) -> bytes:
    """16 bytes naming a record's key and value (a missing key differs from an empty one)."""
    h = hashlib.blake2b(digest_size=16)
    for part in (key, value):
        h.update(b"\x00" if part is None else b"\x01" + len(part).to_bytes(8, "big") + part)
    return h.digest()


@dataclass(frozen=True, slots=True)
class RecordMark:
    """One record as a reader knows it: where it is and what it holds.

    ``stamp``: its Kafka timestamp (ms) when known (a producer that sent it may not know
    the one the broker kept); compared only when both sides have one.
    """

    tp: TopicPartition
    offset: int
    digest: bytes
    stamp: int | None = None

    @classmethod
    def of(cls, record: ConsumerRecord[Any, Any]) -> RecordMark:
        """The mark of a record read from the broker (its raw key and value bytes)."""
        return cls(
            TopicPartition(record.topic, record.partition),
            record.offset,
            digest(record.key, record.value),
            record.timestamp,
        )

    @classmethod
    def sent(
        cls, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> RecordMark:
        """The mark of a record we sent and the broker acknowledged at ``offset``."""
        return cls(TopicPartition(topic, partition), offset, digest(key, value))

    @property
    def place(self) -> Place:
        return (self.tp, self.offset)

    def same(self, other: RecordMark | None) -> bool:
        """Whether ``other`` is this record (same place and content; same timestamp when
        both are known)."""
        return (
            other is not None
            and (self.tp, self.offset, self.digest) == (other.tp, other.offset, other.digest)
            and (self.stamp is None or other.stamp is None or self.stamp == other.stamp)
        )


class RecordCheck:
    """Reads records back at their offsets from the broker there now.

    One consumer of no group, started on first use and kept between checks (it fetches
    only while a check runs); closed, and started afresh next time, after an error.
    ``timeout_s``: the longest one check may take.
    """

    def __init__(self, bootstrap: str, *, client_id: str, timeout_s: float = 5.0) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.timeout_s = timeout_s
        self._consumer: AIOKafkaConsumer | None = None
        self._lock = asyncio.Lock()

    async def read(
        self, places: Iterable[Place], *, ends: Mapping[TopicPartition, int] | None = None
    ) -> dict[Place, RecordMark | None]:
        """The record the broker holds at each of ``places``, or ``None`` where it surely
        holds none (the log ends before it, or skips it). A place not decided within
        :attr:`timeout_s` is left out. ``ends``: each partition's log end when the
        caller knows it (saves a request). Raises when the broker does not answer."""
        wanted = set(places)
        if not wanted:
            return {}
        async with self._lock:
            try:
                return await self._read(wanted, ends)
            except Exception:
                await self.close()
                raise

    async def held(self, marks: Iterable[RecordMark]) -> set[RecordMark]:
        """Those of ``marks`` the broker holds now at their offsets (not decided in time:
        not held). Raises when the broker does not answer."""
        marks = list(marks)
        found = await self.read(m.place for m in marks)
        return {m for m in marks if m.same(found.get(m.place))}

    async def close(self) -> None:
        """Stop the consumer (given :attr:`timeout_s`; an aiokafka consumer whose broker
        restarted can wait on its fetcher for ever, and is then left as it is)."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            try:
                await asyncio.wait_for(consumer.stop(), self.timeout_s)
            except Exception as error:
                logger.warning("record check: consumer not stopped (%r)", error)

    async def _read(
        self, wanted: set[Place], ends: Mapping[TopicPartition, int] | None
    ) -> dict[Place, RecordMark | None]:
        consumer = await self._started()
        starts: dict[TopicPartition, int] = {}
        for tp, offset in wanted:
            starts[tp] = min(starts.get(tp, offset), offset)
        async with asyncio.timeout(self.timeout_s):
            if ends is None or any(tp not in ends for tp in starts):
                ends = await consumer.end_offsets(list(starts))
        found: dict[Place, RecordMark | None] = {
            place: None for place in wanted if ends.get(place[0], 0) <= place[1]
        }
        left = wanted - set(found)
        readable = sorted({tp for tp, _ in left}, key=lambda tp: (tp.topic, tp.partition))
        if not readable:
            return found
        consumer.assign(readable)
        for tp in readable:
            consumer.seek(tp, starts[tp])
        try:
            async with asyncio.timeout(self.timeout_s):
                while left:
                    batch = await consumer.getmany(*readable, timeout_ms=READ_WAIT_MS * 2)
                    for tp, records in batch.items():
                        if not records:
                            continue
                        got = {r.offset: RecordMark.of(r) for r in records}
                        last = records[-1].offset
                        # every wanted offset up to the last record read is decided
                        for place in [p for p in left if p[0] == tp and p[1] <= last]:
                            found[place] = got.get(place[1])
                            left.discard(place)
        except TimeoutError:
            pass  # what was not read in time is left out
        except OffsetOutOfRangeError as error:
            gone = set(error.args[0]) if error.args and isinstance(error.args[0], dict) else set()
            for place in [p for p in left if p[0] in gone]:
                found[place] = None  # the log no longer starts at or before it
        finally:
            # no fetching between checks (not unsubscribe(): a consumer stopped after it
            # can wait for ever on its fetcher, seen with the broker restarting)
            consumer.pause(*readable)
        return found

    async def _started(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                group_id=None,
                enable_auto_commit=False,
                auto_offset_reset="none",
                fetch_max_wait_ms=READ_WAIT_MS,
                request_timeout_ms=int(self.timeout_s * 1000),
            )
            try:
                async with asyncio.timeout(self.timeout_s):
                    await consumer.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await consumer.stop()
                raise
            self._consumer = consumer
        return self._consumer


class LogFollower:
    """What a reader without a consumer group has taken of each partition's log, and
    whether a new fetch continues that log (see the module).

    The reader calls :meth:`took` for each record it takes (or :meth:`took_mark` for the
    record just before where it starts), and :meth:`changed` with the partitions a
    fetch brought records of, before it takes them.
    """

    def __init__(self, check: RecordCheck) -> None:
        self.check = check
        self._last: dict[TopicPartition, RecordMark] = {}

    def took(self, record: ConsumerRecord[Any, Any]) -> None:
        self.took_mark(RecordMark.of(record))

    def took_mark(self, mark: RecordMark) -> None:
        self._last[mark.tp] = mark

    def forget(self, partitions: Iterable[TopicPartition] | None = None) -> None:
        """Forget the marks of ``partitions`` (all when ``None``): read again from their
        log's beginning, they have nothing to continue."""
        if partitions is None:
            self._last.clear()
        for tp in partitions or ():
            self._last.pop(tp, None)

    async def changed(
        self,
        partitions: Iterable[TopicPartition],
        *,
        end: Callable[[TopicPartition], int | None] | None = None,
    ) -> set[TopicPartition]:
        """Of ``partitions``, those whose log no longer holds the last record taken at its
        offset (a new log: read it from its beginning). ``end``: a partition's log end as
        the reader's last fetch saw it (aiokafka's ``highwater``), when known. Raises
        ``TimeoutError`` when the broker did not answer for every one (nothing is
        decided: fetch again and ask again)."""
        marks = [self._last[tp] for tp in set(partitions) if tp in self._last]
        if not marks:
            return set()
        ends: dict[TopicPartition, int] | None = None
        if end is not None:
            known = {m.tp: end(m.tp) for m in marks}
            if all(value is not None for value in known.values()):
                ends = {tp: value for tp, value in known.items() if value is not None}
        found = await self.check.read((m.place for m in marks), ends=ends)
        if any(m.place not in found for m in marks):
            raise TimeoutError("the broker did not show the records a reader took")
        lost = {m.tp for m in marks if not m.same(found[m.place])}
        if lost:
            logger.warning(
                "the broker no longer holds the last records read of %s: a new log, "
                "read from its beginning",
                ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in lost)),
            )
        return lost
