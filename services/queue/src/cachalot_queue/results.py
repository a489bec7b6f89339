"""Consumers: publishers' results (``posts.result.v1``) and auth's accounts (``accounts.v1``).

Each message is one transaction. Results are matched to the target's current
in-flight attempt by :func:`cachalot_queue.states.on_result`, so redelivered or
replayed messages change nothing. Account events keep the queue's own
projection (client, platform, status) and pause, resume or cancel targets;
``deleted`` (the client erased their data) erases the client's posts and
videos (:mod:`cachalot_queue.erase`); an event older than the one already
applied is ignored.

An account event that names another client than a target's (auth gave a
disconnected account to the next client who connected that platform user)
cancels the previous client's pending and failed targets: a re-assigned
account never inherits another client's work. A result for a target whose
account is lost cancels it (unless it says published): see
:func:`cachalot_queue.states.account_loss`.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import cast
from uuid import UUID

from opentelemetry import trace
from opentelemetry.context import Context
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.consuming import process_attributes
from cachalot_common.events import AccountChanged, PublishResult, TargetStatus
from cachalot_common.topics import POSTS_RESULT
from cachalot_common.wakeup import Wakeup
from cachalot_queue import states
from cachalot_queue.audit import record_lease
from cachalot_queue.erase import erase_client
from cachalot_queue.metrics import count_on_commit, observe_published
from cachalot_queue.states import LOST_WITH_ACCOUNT, Change, RetryPolicy
from cachalot_queue.tables import Account, Post, Target
from cachalot_queue.transitions import account_views, apply_change, snapshot

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

_ACCOUNT_AFFECTS: dict[str, tuple[str, ...]] = {
    "reauth_required": ("scheduled",),
    states.NEEDS_CHANNEL: ("scheduled",),
    "connected": ("paused",),
    "revoked": tuple(LOST_WITH_ACCOUNT),
}


class EventHandlers:
    """The queue's reactions to other services' events."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        policy: RetryPolicy,
        clock: Callable[[], datetime],
        rng: random.Random,
        relay_wake: Wakeup,
        scheduler_wake: Wakeup,
        lock_rows: bool,
        media_dir: Path,
        tracer: trace.Tracer | None = None,
    ) -> None:
        """``tracer``: the service's (from its provider,
        :func:`cachalot_common.telemetry.setup_tracing`); the global provider's without it."""
        self._factory = factory
        self._tracer = tracer if tracer is not None else _tracer
        self._media_dir = media_dir
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._relay_wake = relay_wake
        self._scheduler_wake = scheduler_wake
        self._lock = lock_rows

    async def on_result(self, result: PublishResult) -> None:
        await self.on_results([result])

    async def on_results(
        self, results: list[PublishResult], contexts: Sequence[Context] = ()
    ) -> None:
        """Apply a batch of results in order, in one transaction.

        ``contexts[i]``: the trace context of ``results[i]``'s record; the result is
        applied in a span of that trace, so the status events it queues (outbox rows
        carry the current context) continue the post's trace to the notifier, and
        (where that span is recorded) its writes are flushed inside it, so each post's
        trace holds the SQL that recorded its result (:func:`_result_span`).
        """
        now = self._clock()
        query = (
            select(Target)
            .where(Target.id.in_({r.target_id for r in results}))
            .order_by(Target.id)  # one lock order for every replica
        )
        if self._lock:
            query = query.with_for_update()
        announced = rescheduled = False
        published: list[Target] = []
        async with self._factory() as session, session.begin():
            targets = {t.id: t for t in (await session.scalars(query)).all()}
            accounts = await account_views(session, {t.account_id for t in targets.values()})
            connected_at = await _connected_at(session, targets.values(), results)
            for index, result in enumerate(results):
                context = contexts[index] if index < len(contexts) else None
                async with _result_span(self._tracer, result, context, session):
                    target = targets.get(result.target_id)
                    if target is None or target.post_id != result.post_id:
                        logger.info("result for unknown target %s ignored", result.target_id)
                        continue
                    change = states.on_result(
                        snapshot(target),
                        result,
                        policy=self._policy,
                        now=now,
                        rng=self._rng,
                        loss=states.account_loss(target.client_id, accounts.get(target.account_id)),
                        connected_since_dispatch=_after(
                            connected_at.get(target.account_id), target.last_activity_at
                        ),
                    )
                    # the attempt's first result (the target still dispatched) says when
                    # auth granted its lease: the trail's "leased" step (once per attempt)
                    first = target.status == "dispatched" and result.attempt == target.attempt
                    if change is None or not apply_change(session, target, change, now=now):
                        continue
                    if first and result.leased_at is not None:
                        record_lease(session, target, result.leased_at)
                    announced = announced or not change.touch_only
                    rescheduled = rescheduled or change.status == "scheduled"
                    if change.status == "published":
                        published.append(target)
                    if change.pause_account:
                        await self._pause_account(session, target, change, now)
            if published:
                await _count_published(session, published, now)
        if announced:
            self._relay_wake.set()
        if rescheduled:
            self._scheduler_wake.set()

    async def _pause_account(
        self, session: AsyncSession, paused: Target, change: Change, now: datetime
    ) -> None:
        """Hold every other pending target of that account too.

        A dead token also marks the account's projection ``reauth_required`` (new
        posts to it are refused, due targets pause at claim); a Telegram channel our
        bot cannot post to (:data:`states.CHANNEL_CODES`) marks it ``needs_channel``
        (new posts refused saying to link one); missing consent (``consent_required``)
        does not: the account is fine, only its client has to act. Auth's ``connected``
        (consent, a linked channel) resumes the targets.
        """
        account = await session.get(Account, paused.account_id)
        if account is not None and account.status == "connected":
            # changed_at kept: auth's next event wins
            if change.code in states.CHANNEL_CODES:
                account.status = states.NEEDS_CHANNEL
            elif change.code not in states.WAITS_FOR_CLIENT:
                account.status = "reauth_required"
        query = select(Target).where(
            Target.account_id == paused.account_id,
            Target.status == "scheduled",
            Target.id != paused.id,
        )
        for target in (await session.scalars(query)).all():
            apply_change(
                session,
                target,
                Change(status="paused", reason=change.reason, code=change.code),
                now=now,
            )

    async def on_account(self, event: AccountChanged) -> None:
        now = self._clock()
        changed = 0
        async with self._factory() as session, session.begin():
            account = await session.get(Account, event.account_id, with_for_update=self._lock)
            if account is not None and account.changed_at > event.occurred_at:
                logger.info("stale %s event for account %s ignored", event.type, event.account_id)
                return
            if event.type == "updated":  # facts only: its state and its posts stay as they are
                if account is not None and event.creator_info is not None:
                    account.creator_info = event.creator_info.model_dump(mode="json")
                if account is not None and event.communities is not None:
                    account.communities = event.communities  # read again (auth's read_details)
                return
            if account is None:
                account = Account(id=event.account_id)
                session.add(account)
            account.client_id = event.client_id
            account.platform = event.platform
            # a Telegram channel our bot cannot post to is not a dead sign-in: the account
            # needs a channel (new posts are refused naming the fix, pending ones wait)
            channel = states.channel_problem(event.type, event.code)
            account.status = states.NEEDS_CHANNEL if channel else event.type
            account.display_name = event.display_name
            account.changed_at = event.occurred_at
            if event.communities is not None or event.type == "connected":
                account.communities = event.communities  # refreshed at every sign-in
            if event.platform_user_id is not None:
                account.platform_user_id = event.platform_user_id
            if event.creator_info is not None:
                account.creator_info = event.creator_info.model_dump(mode="json")
            if event.type == "deleted":  # the client erased their data: erase ours too
                await session.flush()
                await erase_client(session, event.client_id, self._media_dir)
                return
            query = select(Target).where(
                Target.account_id == event.account_id,
                or_(
                    Target.status.in_(_ACCOUNT_AFFECTS[event.type]),
                    # another client's work on an account that changed hands
                    Target.status.in_(LOST_WITH_ACCOUNT) & (Target.client_id != event.client_id),
                ),
            )
            if self._lock:
                query = query.with_for_update()
            for target in (await session.scalars(query)).all():
                change = states.on_account(
                    event.type,
                    cast(TargetStatus, target.status),
                    event.reason,
                    reassigned=target.client_id != event.client_id,
                    code=event.code,
                )
                if change is None:
                    continue
                if change.status == "scheduled":
                    target.budget_start = target.attempt  # a dead token costs no attempts
                if apply_change(session, target, change, now=now):
                    changed += 1
        if changed:
            self._relay_wake.set()
            if event.type == "connected":
                self._scheduler_wake.set()


async def _connected_at(
    session: AsyncSession, targets: Iterable[Target], results: list[PublishResult]
) -> dict[UUID, datetime]:
    """account id → when its last ``connected`` event occurred, for the accounts of
    ``consent_required`` results only (none: no query)."""
    wanted = {r.target_id for r in results if r.code == states.CONSENT_REQUIRED}
    ids = {t.account_id for t in targets if t.id in wanted}
    if not ids:
        return {}
    rows = await session.execute(
        select(Account.id, Account.changed_at).where(
            Account.id.in_(ids), Account.status == "connected"
        )
    )
    return dict(rows.tuples().all())


@contextlib.asynccontextmanager
async def _result_span(
    tracer: trace.Tracer, result: PublishResult, context: Context | None, session: AsyncSession
) -> AsyncIterator[None]:
    """``queue result <type>``: the consumer span that processes one result record, in
    the trace of that record (``context``), or of the current one without it.

    The consumer kit's span of the batch (one transaction) is in the trace of the
    batch's first result only, so each result has this span of its own in its record's
    trace, with the messaging ``process`` attributes (OpenTelemetry semantic
    conventions) that tell a trace viewer the post's trace went through Kafka here.
    Span links to the batch are not enough: trace viewers such as Phoenix drop them.

    When the span is recorded, the result's changes are flushed inside it (its
    ``UPDATE targets``), so an operator who opens a post's trace sees the statement
    that recorded its result; otherwise they wait for the batch's one flush at commit
    (no per-record statements when nothing is traced, issue 9). Same transaction
    either way. Its trail and outbox rows stay in the one multi-row INSERT at commit
    (:mod:`cachalot_queue.outbox`); the outbox rows carry this span's context, so the
    relay sends its status events under PRODUCER spans of the post's trace.
    """
    name = f"queue result {result.type}"
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=trace.SpanKind.CONSUMER,
        attributes=process_attributes(POSTS_RESULT),
    ) as span:
        span.set_attribute("cachalot.target_id", str(result.target_id))
        span.set_attribute("cachalot.post_id", str(result.post_id))
        yield
        if span.is_recording():
            await session.flush()


def _after(event_at: datetime | None, dispatched_at: datetime | None) -> bool:
    """Whether an account event (auth's clock) came after the attempt began (ours)."""
    return event_at is not None and dispatched_at is not None and event_at > dispatched_at


async def _count_published(session: AsyncSession, targets: list[Target], now: datetime) -> None:
    """Observe each published target's latency from its post's scheduled time, on commit."""
    post_ids = {t.post_id for t in targets}
    scheduled = dict(
        (await session.execute(select(Post.id, Post.scheduled_at).where(Post.id.in_(post_ids))))
        .tuples()
        .all()
    )
    for target in targets:
        if (at := scheduled.get(target.post_id)) is not None:
            count_on_commit(session, partial(observe_published, target.platform, at, now))
