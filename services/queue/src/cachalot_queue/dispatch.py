"""The scheduler (due targets → publish commands) and the reconciler (silent ones).

The scheduler sleeps until the next due time, at most ``max_sleep_s`` (so
posts queued by another replica are seen quickly), and is woken at once when
this process queues a post. Claims are ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas never dispatch the same target twice. Commands go
through the outbox like every other event.

The reconciler re-sends the command of a target stuck in dispatched or
publishing past a timeout with ``reconcile=True``: the publisher then asks the
platform what became of it before sending anything (never a blind
re-upload). That also recovers commands a broker lost (Tansu restarts empty).

Only targets whose account is connected *and held by the post's client* are
dispatched (a re-assigned account never inherits another client's work); the
reconciler cancels an in-flight target whose account is lost instead of
asking again. Every command carries a publish grant signed here
(:class:`Granter`, :mod:`cachalot_common.grants`): auth leases a token only
for a command the queue really sent, for its account and client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.events import MediaRef, PublishVideo
from cachalot_common.grants import GRANT_ISSUER, mint_grant
from cachalot_common.platforms import label_of
from cachalot_common.topics import Platform, publish_topic
from cachalot_queue import states
from cachalot_queue.outbox import enqueue
from cachalot_queue.states import IN_FLIGHT, Change
from cachalot_queue.tables import Account, Media, Post, Target
from cachalot_queue.transitions import account_views, apply_change
from cachalot_queue.wakeup import Wakeup

logger = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class Granter:
    """Signs the publish grant of one dispatch with the queue's service secret."""

    def __init__(self, *, secret: str, lifetime_s: float, issuer: str = GRANT_ISSUER) -> None:
        """``lifetime_s``: seconds a grant may be used to lease (a long upload's length)."""
        self._secret = secret
        self._lifetime_s = lifetime_s
        self._issuer = issuer

    def grant(self, target: Target) -> str:
        """A grant bound to ``target``'s post, client, account, platform and current attempt."""
        return mint_grant(
            post_id=target.post_id,
            target_id=target.id,
            client_id=target.client_id,
            account_id=target.account_id,
            platform=target.platform,
            attempt=target.attempt,
            secret=self._secret,
            lifetime_s=self._lifetime_s,
            issuer=self._issuer,
        )


def publish_command(target: Target, media: Media, *, reconcile: bool, grant: str) -> PublishVideo:
    """The order a publisher gets for one target's current attempt, with its ``grant``."""
    return PublishVideo.model_validate(
        {
            "post_id": target.post_id,
            "target_id": target.id,
            "client_id": target.client_id,
            "account_id": target.account_id,
            "platform": target.platform,
            "attempt": target.attempt,
            "media": MediaRef(
                media_id=media.id,
                path=media.path,
                size=media.size,
                sha256=media.sha256,
                content_type=media.content_type,  # type: ignore[arg-type]
                duration_sec=media.duration_sec,
            ),
            "options": target.options,
            "reconcile": reconcile,
            "grant": grant,
        }
    )


def send_command(
    session: AsyncSession, target: Target, media: Media, *, reconcile: bool, grants: Granter
) -> None:
    enqueue(
        session,
        publish_topic(cast(Platform, target.platform)),
        str(target.account_id),
        publish_command(target, media, reconcile=reconcile, grant=grants.grant(target)),
    )


async def media_for(session: AsyncSession, targets: Sequence[Target]) -> dict[UUID, Media]:
    """post id → media, in one query."""
    post_ids = {t.post_id for t in targets}
    rows = await session.execute(
        select(Post.id, Media).join(Media, Media.id == Post.media_id).where(Post.id.in_(post_ids))
    )
    return {post_id: media for post_id, media in rows.tuples()}


class Worker:
    """A loop that survives errors (logged, then retried with a short backoff)."""

    name = "worker"

    async def step(self) -> float:
        """Do one round; return how long to wait before the next."""
        raise NotImplementedError

    async def _wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                pause = await self.step()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception:
                failures += 1
                logger.warning("%s failed; retrying", self.name, exc_info=True)
                pause = min(5.0, 0.1 * 2**failures)
            if pause > 0:
                await self._wait(pause)


class Scheduler(Worker):
    name = "scheduler"

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        reader: async_sessionmaker[AsyncSession] | None = None,
        clock: Clock,
        wake: Wakeup,
        relay_wake: Wakeup,
        claim_with_lock: bool,
        grants: Granter,
        batch: int = 200,
        max_sleep_s: float = 0.2,
    ) -> None:
        self._factory = factory
        self._grants = grants
        self._reader = reader or factory
        self._clock = clock
        self._wake = wake
        self._relay_wake = relay_wake
        self._lock = claim_with_lock
        self._batch = batch
        self._max_sleep = max_sleep_s

    async def _wait(self, seconds: float) -> None:
        await self._wake.wait(seconds)

    async def step(self) -> float:
        # Look first (a read), claim only when something is due: an idle
        # scheduler never takes the write lock.
        wait = await self.seconds_to_next()
        if wait > 0:
            return wait
        dispatched = await self.dispatch_due()
        if dispatched:
            self._relay_wake.set()
        if dispatched >= self._batch:
            return 0.0
        return await self.seconds_to_next()

    async def dispatch_due(self) -> int:
        """Claim due targets of accounts connected by the post's client; queue their commands."""
        now = self._clock()
        query = (
            select(Target)
            .join(Account, _held_by_the_posts_client())
            .where(Target.status == "scheduled", Target.due_at <= now)
            .where(Account.status == "connected")
            .order_by(Target.due_at)
            .limit(self._batch)
        )
        if self._lock:
            query = query.with_for_update(of=Target, skip_locked=True)
        async with self._factory() as session, session.begin():
            targets = list((await session.scalars(query)).all())
            if not targets:
                return 0
            media = await media_for(session, targets)
            for target in targets:
                apply_change(session, target, Change(status="dispatched"), now=now)
                try:
                    send_command(
                        session,
                        target,
                        media[target.post_id],
                        reconcile=False,
                        grants=self._grants,
                    )
                except (ValidationError, KeyError) as error:
                    # A row no command can be built from must not block the others.
                    logger.error("target %s cannot be dispatched: %s", target.id, error)
                    broken = Change(
                        status="failed",
                        reason="The post's stored settings are invalid; queue it again.",
                        code="invalid_target",
                        notify_operator=True,
                    )
                    apply_change(session, target, broken, now=now)
        return len(targets)

    async def seconds_to_next(self) -> float:
        query = (
            select(func.min(Target.due_at))
            .join(Account, _held_by_the_posts_client())
            .where(Target.status == "scheduled", Account.status == "connected")
        )
        async with self._reader() as session:
            next_due = await session.scalar(query)
        if next_due is None:
            return self._max_sleep
        return max(0.0, min(self._max_sleep, (next_due - self._clock()).total_seconds()))


class Reconciler(Worker):
    name = "reconciler"

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        relay_wake: Wakeup,
        claim_with_lock: bool,
        silent_after_s: float,
        max_reconciles: int,
        grants: Granter,
        batch: int = 200,
    ) -> None:
        self._factory = factory
        self._grants = grants
        self._clock = clock
        self._relay_wake = relay_wake
        self._lock = claim_with_lock
        self._silent = timedelta(seconds=silent_after_s)
        self._max = max_reconciles
        self._batch = batch
        self._interval = max(0.1, min(silent_after_s / 4, 15.0))

    async def step(self) -> float:
        if await self.reconcile_once():
            self._relay_wake.set()
        return self._interval

    async def reconcile_once(self) -> int:
        """Re-send (reconcile=True) or give up on targets silent past the timeout."""
        now = self._clock()
        query = (
            select(Target)
            .where(Target.status.in_(IN_FLIGHT), Target.last_activity_at < now - self._silent)
            .order_by(Target.last_activity_at)
            .limit(self._batch)
        )
        if self._lock:
            query = query.with_for_update(skip_locked=True)
        async with self._factory() as session, session.begin():
            targets = list((await session.scalars(query)).all())
            if not targets:
                return 0
            media = await media_for(session, targets)
            accounts = await account_views(session, {t.account_id for t in targets})
            for target in targets:
                loss = states.account_loss(target.client_id, accounts.get(target.account_id))
                if loss is not None:  # nobody may lease for it any more: nothing to ask
                    apply_change(session, target, loss, now=now)
                    continue
                if target.reconciles >= self._max:
                    name = label_of(target.platform)
                    reason = (
                        f"{name}: the publisher did not report back after {target.reconciles} "
                        "status checks; check the account on the platform, then retry."
                    )
                    change = Change(
                        status="failed", reason=reason, code="no_answer", notify_operator=True
                    )
                    apply_change(session, target, change, now=now)
                    continue
                target.reconciles += 1
                target.last_activity_at = now
                send_command(
                    session, target, media[target.post_id], reconcile=True, grants=self._grants
                )
                logger.info(
                    "re-sent target %s attempt %s for a status check", target.id, target.attempt
                )
        return len(targets)


def _held_by_the_posts_client() -> ColumnElement[bool]:
    """Join condition: the target's account, as long as the post's client holds it."""
    return and_(Account.id == Target.account_id, Account.client_id == Target.client_id)
