"""Consume → per-account lanes → one final result per command; offsets in partition order.

The subscriber's handler only decodes and calls :meth:`PublishRuntime.accept`,
which registers the record's (partition, offset) and queues the command in
its account's lane; it returns at once, so the consumer keeps polling (no
handler outlives ``max.poll.interval``) and the group never evicts us.

* **Concurrency**: up to ``publish_concurrency`` publishes hold a slot at
  once. :meth:`_Context.sleep` gives the slot back while waiting (platform
  processing, a short rate limit) and takes one again before going on; a
  wait longer than ``publish_max_inline_wait_s`` is not slept but becomes a
  ``retryable`` result with ``retry_after_s`` (in full), so the queue
  re-schedules it.
* **Order and fairness**: :class:`~cachalot_publishing.scheduler.FairScheduler`.
* **Offsets**: a command's offset completes once its final result is
  acknowledged by the broker; every ``publish_commit_interval_s`` the
  contiguous prefix of completed offsets is committed per partition
  (:class:`~cachalot_publishing.offsets.OffsetTracker`), through the
  aiokafka consumer with explicit offsets, never a bare ``commit()``, and only
  as the group membership the partitions were assigned in
  (:func:`cachalot_common.kafka.commit_as_member`): offsets read from a broker's
  log never become the positions of a group on the log it holds after a restart.
* **Backpressure**: past ``publish_max_buffered`` commands in hand, fetching
  pauses on every assigned partition; it resumes at half. Records arrive in
  fetches of up to ``publish_fetch_max_records``, so one fetch may go past it.
* **Rebalance**: revoked partitions' queued and running commands are
  cancelled without a result (the new owner gets them again; the platform's
  recorded session id guards against a second post), finished offsets are
  committed first; newly assigned partitions start with a clean slate.
* **Exactly one final result per command**, whatever happens: the
  platform's :class:`Published` or :class:`Outcome`, or, for any other
  exception, a retryable ``internal_error`` naming the error's type (never
  its message, which might hold a secret). A cancelled command sends none.
* **An unknown outcome** (:func:`~cachalot_publishing.outcome.unknown`: the
  post may have gone out) goes to the queue as ``unknown`` only for a
  platform that cannot look a post up (``PlatformSpec.looks_up_posts``, the
  registry's), and as ``retryable`` for the others, whose next attempt asks
  the platform before it posts. Platforms raise it; this is the one place
  that decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from opentelemetry import context as otel_context
from opentelemetry import trace

from cachalot_common import platforms
from cachalot_common.consuming import GroupHealth
from cachalot_common.events import MediaRef, PublishPost, PublishResult, whole_second_wait
from cachalot_common.kafka import Membership, commit_as_member, commit_timeout_s, group_membership
from cachalot_common.leases import Lease, LeaseSource
from cachalot_common.metrics import PUBLISHER_ATTEMPT_SECONDS, count_result
from cachalot_common.wakeup import wait_event
from cachalot_publishing.media_file import media_file
from cachalot_publishing.offsets import OffsetTracker
from cachalot_publishing.outcome import (
    INTERNAL_ERROR,
    LEASE_UNAVAILABLE,
    WRONG_PLATFORM,
    Outcome,
    Published,
    failed,
    network,
    retryable,
    unavailable,
)
from cachalot_publishing.ports import Platform
from cachalot_publishing.results import ResultSink
from cachalot_publishing.scheduler import FairScheduler
from cachalot_publishing.settings import PublisherSettings
from cachalot_publishing.token import LEASE_RETRY_S, CommandTokens, LeaseCache, LeaseChanged

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("cachalot_publishing")
T = TypeVar("T")
SEND_RETRY_MAX_S = 5.0
LEASE_RUNS = 2
"""Runs of a platform's ``publish`` per command when the confirmed lease changed
(:class:`~cachalot_publishing.token.LeaseChanged`): the first, and one with auth's lease."""


@dataclass(eq=False)
class _Job:
    command: PublishPost
    partition: TopicPartition
    offset: int
    trace_context: otel_context.Context
    epoch: int  # the tracker's epoch of the partition when the offset was registered
    task: asyncio.Task[None] | None = None
    holds_slot: bool = False
    finished: bool = False
    last_progress_s: float = field(default=-1e18)  # set to the start when the publish runs
    reported: bool = False  # a progress result went out
    tokens: CommandTokens | None = None  # the publish's tokens (its lease time), once it runs


class PublishRuntime:
    """One process's publishing engine for one platform (see the module docstring)."""

    def __init__(
        self,
        settings: PublisherSettings,
        *,
        platform: str,
        results: ResultSink,
        leases: LeaseSource,
    ) -> None:
        self.settings = settings
        self.platform_name = platform
        self.label = platforms.label_of(platform)  # the registry's, for reasons people read
        self.results = results
        self.tokens = LeaseCache(
            leases,
            label=self.label,
            grant_keys=settings.grant_keys(),
            confirm_batch_max=settings.publish_confirm_batch_max,
            confirm_gather_s=settings.publish_confirm_gather_s,
        )
        self.tracker: OffsetTracker[TopicPartition] = OffsetTracker()
        self.scheduler: FairScheduler[UUID, UUID, _Job] = FairScheduler()
        self.commits: deque[dict[TopicPartition, int]] = deque(maxlen=64)  # the latest commits
        #: where refused commits are reported (:func:`cachalot_common.consuming.watch_subscriber`):
        #: the broker watch restarts a consumer whose commits keep failing
        self.health: GroupHealth | None = None
        self._platform: Platform | None = None
        self._consumer_of: Callable[[], Any] = lambda: None
        self._jobs: set[_Job] = set()
        self._free = settings.publish_concurrency
        self._resumers: deque[asyncio.Future[None]] = deque()
        self._paused = False
        self._stopping = False
        self._rebalancing = False  # between a revoke and the assignment that follows
        #: the consumer's group membership when its partitions were assigned: the only
        #: one their offsets are committed as (:func:`cachalot_common.kafka.commit_as_member`)
        self._membership: Membership | None = None
        self._synthetic = itertools.count()
        self._committer: asyncio.Task[None] | None = None
        # a commit not confirmed within a group session is for a group that has moved on
        self._commit_timeout_s = commit_timeout_s(settings.kafka_session_timeout_ms)
        self._idle = asyncio.Event()
        self._idle.set()
        self.listener = _Listener(self)
        spec = platforms.find(platform)
        #: whether an ``unknown`` outcome can be settled by asking the platform again
        #: (:data:`~cachalot_common.platforms.PlatformSpec.looks_up_posts`; one rule for all)
        self._looks_up = spec.looks_up_posts if spec is not None else True
        self._is_wait = spec.is_wait if spec is not None else platforms.SHARED_WAITS.__contains__

    # --- wiring -------------------------------------------------------------------------

    def attach(self, platform: Platform, consumer_of: Callable[[], Any]) -> None:
        """Give the runtime its platform and a way to reach the subscriber's consumer."""
        self._platform = platform
        self._consumer_of = consumer_of

    async def start(self) -> None:
        self._committer = asyncio.create_task(self._commit_loop(), name="offset-commits")

    async def stop(self) -> None:
        """Cancel every command (no results: they are delivered again), commit what finished."""
        self._stopping = True
        for job in self.scheduler.drop(lambda _: True):
            self._jobs.discard(job)
        running = list(self._jobs)
        for job in running:
            self._cancel(job)
        await self._await_cancelled(running)
        await self.tokens.confirmations.aclose()
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
            self._committer = None
        try:
            await self.commit()
        except Exception as error:  # the group is already gone: the next owner reads again
            logger.warning("last offset commit failed (%s)", type(error).__name__)

    def _consumer(self) -> AIOKafkaConsumer | None:
        consumer = self._consumer_of()
        return consumer if isinstance(consumer, AIOKafkaConsumer) else None

    # --- intake ---------------------------------------------------------------------------

    def accept(
        self,
        command: PublishPost,
        partition: TopicPartition,
        offset: int,
        *,
        trace_context: otel_context.Context | None = None,
    ) -> None:
        """Queue ``command`` (consumed at ``partition``/``offset``) in its account's lane.

        ``trace_context``: the record's (default: the current one). Ignored (it will be
        delivered again) while stopping or between a revoke and the next assignment.
        """
        if self._stopping or self._rebalancing:
            return
        if self._consumer() is None:  # in memory (TestKafkaBroker): every offset is 0
            offset = next(self._synthetic)
        if not self.tracker.register(partition, offset):
            logger.info("offset %s of %s seen twice; ignored", offset, partition)
            return
        context = trace_context if trace_context is not None else otel_context.get_current()
        job = _Job(command, partition, offset, context, self.tracker.epoch(partition))
        self._jobs.add(job)
        self._idle.clear()
        self.scheduler.push(command.client_id, command.account_id, job)
        self._pump()
        self._apply_backpressure()

    def skip(self, partition: TopicPartition, offset: int) -> None:
        """A record that carries no command (sent to the DLQ): its offset is done."""
        if self._consumer() is None:
            offset = next(self._synthetic)
        if self.tracker.register(partition, offset):
            self.tracker.complete(partition, offset)

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until no command is in hand (tests)."""
        if not await wait_event(self._idle, timeout):
            raise TimeoutError(f"commands still in hand after {timeout} s")

    @property
    def in_hand(self) -> int:
        """Commands received and not finished."""
        return len(self._jobs)

    # --- slots ----------------------------------------------------------------------------

    def _pump(self) -> None:
        """Hand free slots out: first to waits that ended, then to the next fair command."""
        while self._free > 0:
            if self._resumers:
                waiter = self._resumers.popleft()
                if waiter.done():
                    continue
                self._free -= 1
                waiter.set_result(None)
                continue
            picked = self.scheduler.next()
            if picked is None:
                return
            _, job = picked
            self._free -= 1
            job.holds_slot = True
            job.task = asyncio.create_task(self._run(job), context=_copy(job.trace_context))

    def _release_slot(self, job: _Job) -> None:
        if job.holds_slot:
            job.holds_slot = False
            self._free += 1
            self._pump()

    async def _take_slot(self, job: _Job) -> None:
        if self._free > 0 and not self._resumers:
            self._free -= 1
            job.holds_slot = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._resumers.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._free += 1  # granted as we were cancelled: give it back
                self._pump()
            raise
        job.holds_slot = True

    # --- one command --------------------------------------------------------------------

    async def _run(self, job: _Job) -> None:
        began = job.last_progress_s = time.monotonic()
        try:
            result = await self._outcome(job)
            await self._send_final(result)
            job.finished = True
        finally:
            PUBLISHER_ATTEMPT_SECONDS.labels(self.platform_name).observe(time.monotonic() - began)
            self._jobs.discard(job)
            self.scheduler.release(job.command.account_id)
            if job.finished:
                self.tracker.complete(job.partition, job.offset, job.epoch)
            self._release_slot(job)
            self._pump()
            self._apply_backpressure()
            if not self._jobs:
                self._idle.set()

    async def _outcome(self, job: _Job) -> PublishResult:
        command = job.command
        attributes: dict[str, str | int] = {
            "cachalot.platform": self.platform_name,
            "cachalot.post_id": str(command.post_id),
            "cachalot.target_id": str(command.target_id),
            "cachalot.attempt": command.attempt,
        }
        with tracer.start_as_current_span(f"publish {self.platform_name}", attributes=attributes):
            span = trace.get_current_span()
            try:
                if command.platform != self.platform_name or (
                    getattr(command.options, "platform", self.platform_name) != self.platform_name
                ):
                    raise failed(WRONG_PLATFORM, f"Not a {self.label} post.")
                published = await self._publish(job)
            except Outcome as outcome:
                logger.info(
                    "target %s attempt %s ended %s (%s)",
                    command.target_id,
                    command.attempt,
                    outcome.kind,
                    outcome.code,
                )
                span.set_attribute("cachalot.outcome", outcome.kind)
                span.set_attribute("cachalot.code", outcome.code)
                return self._result(job, outcome)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                ended = self._unexpected(command, error)
                span.set_attribute("cachalot.outcome", ended.kind)
                span.set_attribute("cachalot.code", ended.code)
                return self._result(job, ended)
            span.set_attribute("cachalot.outcome", "published")
            logger.info("target %s published as %s", command.target_id, published.remote_id)
            return self._result(job, published)

    def _unexpected(self, command: PublishPost, error: Exception) -> Outcome:
        """What an exception a platform's steps did not turn into an :class:`Outcome` ends
        as: the platform's HTTP failing (httpx's transport errors and ``raise_for_status``,
        on the one client every platform calls through) is ``network`` / ``unavailable``
        as a platform that maps them itself says; anything else is a retryable
        ``internal_error`` naming only the exception's type (logged with its trace)."""
        name = type(error).__name__
        if isinstance(error, httpx.TransportError):
            logger.warning("target %s: %s unreachable (%s)", command.target_id, self.label, name)
            return network(self.label, name)
        if isinstance(error, httpx.HTTPStatusError) and error.response.status_code >= 500:
            status = error.response.status_code
            logger.warning("target %s: %s answered %s", command.target_id, self.label, status)
            return unavailable(self.label, status)
        logger.error("target %s: unexpected %s", command.target_id, name, exc_info=True)
        return retryable(
            INTERNAL_ERROR, f"The {self.label} publisher failed unexpectedly ({name}); will retry."
        )

    async def _publish(self, job: _Job) -> Published:
        """The platform's ``publish`` of ``job``; run again, with auth's confirmed lease, when
        the lease it planned by had changed (:class:`LeaseChanged`, raised before anything
        visible; a run again is a redelivery to the platform, which each handles). A lease
        that changes again meanwhile ends the command ``retryable`` ``lease_unavailable``."""
        assert self._platform is not None, "attach() the platform before starting"
        context = _Context(self, job)
        for _ in range(LEASE_RUNS):
            try:
                return await self._platform.publish(job.command, context)
            except LeaseChanged:
                logger.info(
                    "target %s: the account's lease changed (relinked or reconnected) before "
                    "the post was made; planning again with auth's",
                    job.command.target_id,
                )
        raise retryable(
            LEASE_UNAVAILABLE,
            f"The {self.label} account changed while this post was being prepared; will retry.",
            LEASE_RETRY_S,
        )

    def _result(
        self, job: _Job, ending: Published | Outcome | None, **fields: Any
    ) -> PublishResult:
        command = job.command
        if isinstance(ending, Published):
            fields.update(
                type="published",
                remote_id=ending.remote_id,
                remote_url=ending.remote_url,
                bytes_sent=command.bytes_total,
                bytes_total=command.bytes_total,
            )
        elif isinstance(ending, Outcome):
            kind = ending.kind
            if kind == "unknown" and self._looks_up and not ending.no_lookup:
                kind = "retryable"  # the next attempt looks the post up before posting
            if kind == "wait":
                kind = "retryable"  # the queue reads the registry: no attempt is used
                if not self._is_wait(ending.code):
                    logger.error(
                        "%s: %s was raised as a wait but the registry does not declare it one "
                        "(PlatformSpec.waits); the queue will count it as an attempt",
                        self.platform_name,
                        ending.code,
                    )
            fields.update(
                type="failed" if kind == "reauth" else kind,
                code=ending.code,
                reason=ending.reason,
                reauth_required=ending.kind == "reauth",
            )
            if ending.retry_after_s is not None:  # ends on a whole second: one window, one end
                fields["occurred_at"], fields["retry_after_s"] = whole_second_wait(
                    ending.retry_after_s
                )
        return PublishResult(
            post_id=command.post_id,
            target_id=command.target_id,
            account_id=command.account_id,
            platform=command.platform,
            attempt=command.attempt,
            leased_at=job.tokens.leased_at if job.tokens is not None else None,
            **fields,
        )

    async def _send_final(self, result: PublishResult) -> None:
        """Send until the broker has it (the offset waits for it; cancellation stops trying)."""
        delay = 0.2
        while True:
            try:
                await self.results.send(result)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                logger.warning(
                    "result for target %s not sent (%s); retrying",
                    result.target_id,
                    type(error).__name__,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, SEND_RETRY_MAX_S)
                continue
            count_result(result)
            return

    async def _progress(self, job: _Job, sent: int, total: int) -> None:
        """At most one progress result per interval; none for a command quicker than that.

        A publish that ends within ``publish_progress_interval_s`` of its start
        sends only its final result (which carries the bytes): a progress report
        nobody could see would cost a result, a queue transaction and a status
        event per post. Once one report went out, the last (``sent == total``)
        always goes, so a long upload never shows stuck short of 100 %.
        """
        now = time.monotonic()
        interval = self.settings.publish_progress_interval_s
        if now - job.last_progress_s < interval and not (sent >= total and job.reported):
            return
        job.last_progress_s = now
        job.reported = True
        result = self._result(job, None, type="progress", bytes_sent=sent, bytes_total=total)
        try:
            await self.results.send(result)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a lost progress report is harmless
            logger.info("progress not sent (%s)", type(error).__name__)

    async def _sleep(self, job: _Job, seconds: float, code: str, reason: str) -> None:
        if seconds > self.settings.publish_max_inline_wait_s:
            raise retryable(code, reason, seconds)
        self._release_slot(job)
        await asyncio.sleep(seconds)
        await self._take_slot(job)

    # --- offsets and flow control ---------------------------------------------------------

    async def commit(self, partitions: set[TopicPartition] | None = None) -> None:
        """Commit each partition's finished prefix (of ``partitions``, or of all assigned).

        Only as the group membership the partitions were assigned in; raises aiokafka's
        ``CommitFailedError`` when the consumer no longer holds it (nothing is sent),
        ``TimeoutError`` when the broker has not confirmed within a group session
        (``kafka_session_timeout_ms``), or aiokafka's error for a refused commit.
        """
        offsets = self.tracker.committable()
        consumer = self._consumer()
        if consumer is not None:
            assigned = consumer.assignment()
            offsets = {tp: o for tp, o in offsets.items() if tp in assigned}
        if partitions is not None:
            offsets = {tp: o for tp, o in offsets.items() if tp in partitions}
        if not offsets:
            return
        if consumer is not None:
            # As the member the partitions were assigned to, never as no member: a
            # consumer whose broker came back empty has lost its group, and its
            # commit of the old log's offsets would become the new group's
            # positions (commit_as_member). Bounded: aiokafka retries a commit whose
            # group coordinator is unknown without end, even once its consumer is
            # closed (a retriable GroupCoordinatorNotAvailableError, and a closed
            # coordinator looks for none). A commit under way when the broker died
            # would hold the commit loop on the old consumer after the broker watch
            # replaced it, and nothing would be committed again (issue 11). Not
            # committed: the offsets stay committable and the next round tries on
            # the consumer then in use (a revoke forgets them: delivered again).
            await commit_as_member(
                consumer,
                lambda: consumer.commit(offsets),
                self._membership,
                timeout_s=self._commit_timeout_s,
            )
        self.tracker.committed(offsets)
        self.commits.append(offsets)

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.publish_commit_interval_s)
            try:
                await self.commit()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a rebalance in progress; the next round retries
                logger.info("offset commit deferred (%s)", type(error).__name__)
                if self.health is not None:
                    self.health.commit_failed(error)
            else:
                if self.health is not None:
                    self.health.commit_ok()

    def _apply_backpressure(self) -> None:
        consumer = self._consumer()
        if consumer is None:
            return
        high = self.settings.publish_max_buffered
        if not self._paused and len(self._jobs) >= high:
            self._paused = True
            consumer.pause(*consumer.assignment())
            logger.info("%d commands in hand: fetching paused", len(self._jobs))
        elif self._paused and len(self._jobs) <= high // 2:
            self._paused = False
            consumer.resume(*consumer.assignment())
            logger.info("%d commands in hand: fetching resumed", len(self._jobs))

    # --- rebalance ------------------------------------------------------------------------

    def _cancel(self, job: _Job) -> None:
        if job.task is not None and not job.task.done():
            job.task.cancel()

    async def _await_cancelled(self, jobs: list[_Job]) -> None:
        tasks = [j.task for j in jobs if j.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    async def revoke(self, partitions: set[TopicPartition]) -> None:
        """Give ``partitions`` up: commit what finished, drop the rest without results.

        Called before every join; a consumer that lost its group (its broker no longer
        knew it) commits nothing: what finished is delivered again."""
        self._rebalancing = True
        for job in self.scheduler.drop(lambda j: j.partition in partitions):
            self._jobs.discard(job)
        running = [j for j in self._jobs if j.partition in partitions]
        for job in running:
            self._cancel(job)
        await self._await_cancelled(running)
        try:
            await self.commit(partitions)
        except Exception as error:
            logger.warning("commit on revoke failed (%s)", type(error).__name__)
        self.tracker.forget(partitions)
        if not self._jobs:
            self._idle.set()
        if running:
            logger.info("partitions revoked: %d commands handed over", len(running))

    def assign(self, partitions: set[TopicPartition]) -> None:
        """Start ``partitions`` afresh (they are read again from their committed offsets)."""
        self._rebalancing = False
        self.tracker.forget(partitions)
        consumer = self._consumer()
        self._membership = group_membership(consumer) if consumer is not None else None
        if self._paused and consumer is not None and partitions:
            consumer.pause(*partitions)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runtime: PublishRuntime) -> None:
        self._runtime = runtime

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._runtime.revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._runtime.assign(set(assigned))


class _Context:
    """What one publish gets from the runtime (:class:`~cachalot_publishing.ports.Context`)."""

    def __init__(self, runtime: PublishRuntime, job: _Job) -> None:
        self._runtime = runtime
        self._job = job
        self._tokens = job.tokens = CommandTokens(runtime.tokens, job.command, runtime.label)
        self._media: dict[UUID, Path] = {}

    @property
    def command(self) -> PublishPost:
        return self._job.command

    def media_file(self, media: MediaRef | None = None) -> Path:
        ref = media if media is not None else self._job.command.video()
        if ref.media_id not in self._media:
            self._media[ref.media_id] = media_file(self._runtime.settings.media_dir, ref)
        return self._media[ref.media_id]

    async def call_with_token(self, request: Callable[[str], Awaitable[T]]) -> T:
        return await self._tokens.call(request)

    async def lease(self) -> Lease:
        return await self._tokens.lease()

    async def confirm_lease(self) -> None:
        await self._tokens.confirm()

    async def progress(self, bytes_sent: int, bytes_total: int) -> None:
        await self._runtime._progress(self._job, bytes_sent, bytes_total)

    async def sleep(self, seconds: float, *, code: str, reason: str) -> None:
        await self._runtime._sleep(self._job, seconds, code, reason)


def _copy(context: otel_context.Context) -> Any:
    """A contextvars copy in which ``context`` is the current OpenTelemetry context."""
    token = otel_context.attach(context)
    try:
        return contextvars.copy_context()
    finally:
        otel_context.detach(token)
