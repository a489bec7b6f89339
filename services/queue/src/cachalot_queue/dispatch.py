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
A target is given up on (:func:`states.no_answer`: failed ``no_answer``, or
``unconfirmed`` where the platform cannot look a post up) only after ``max_reconciles`` checks
left for the publisher: a check still waiting in the outbox (the broker is
away) is neither counted nor taken as silence, since the post may well be on
the platform.

Only targets whose account is connected *and held by the post's client* are
dispatched (a re-assigned account never inherits another client's work); the
reconciler cancels an in-flight target whose account is lost instead of
asking again.

Cost follows what is due, not the backlog (issue 9 item 3): the "next due"
read and the claim touch ``targets`` only, through the partial index
``ix_targets_due`` (``status, due_at, …`` of scheduled targets), so an idle tick
reads one index entry and a claim reads the due rows it takes. The
account rule is checked on those claimed rows only, by primary key. The
accounts.v1 handler keeps unusable accounts' targets out of ``scheduled``
(paused on reauth, cancelled when lost); a claimed target whose account is
still unusable (a race with that handler, a retry that came back while the
account waits for reauth) is paused when its client's account needs
reauthorisation, and otherwise left ``scheduled`` and looked at again after
``recheck_s``: the account's own event decides its fate; the scheduler only
refuses to dispatch it. Every command carries a publish grant signed here
(:class:`Granter`, :mod:`cachalot_common.grants`): auth leases a token only
for a command the queue really sent, for its account and client.

An account's posts go out in the order they were scheduled for: targets due at
the same moment are claimed in :func:`claim_order`, and a target is held while an
earlier one of its account waits on the platform (:func:`held_behind_waits`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from uuid import UUID

from opentelemetry import propagate, trace
from pydantic import ValidationError
from sqlalchemy import ColumnElement, Select, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cachalot_common.events import MediaRef, PublishPost
from cachalot_common.grants import GRANT_ISSUER, GrantSigningKey, mint_grant
from cachalot_common.topics import Platform, publish_topic
from cachalot_common.wakeup import Wakeup
from cachalot_queue import states
from cachalot_queue.media_links import MediaLinks
from cachalot_queue.outbox import enqueue
from cachalot_queue.states import IN_FLIGHT, AccountView, Change
from cachalot_queue.tables import Account, Media, OutboxMessage, Post, PostMedia, Target
from cachalot_queue.transitions import account_views, apply_change

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer(__name__)

Clock = Callable[[], datetime]


class Granter:
    """Signs the publish grant of one dispatch with the queue's private grant key (EdDSA),
    and the media links of a command whose platform fetches media (``links``)."""

    def __init__(
        self,
        *,
        key: GrantSigningKey,
        lifetime_s: float,
        issuer: str = GRANT_ISSUER,
        links: MediaLinks | None = None,
    ) -> None:
        """``lifetime_s``: seconds a grant may be used to lease (a long upload's length);
        ``links``: None when the queue has no public URL (no links are made)."""
        self._key = key
        self._lifetime_s = lifetime_s
        self._issuer = issuer
        self.links = links

    def sign_media(self, command: PublishPost) -> PublishPost:
        """``command`` with signed links to its files when its platform fetches them."""
        return command if self.links is None else self.links.sign_command(command)

    def grant(self, target: Target) -> str:
        """A grant bound to ``target``'s post, client, account, platform and current attempt."""
        return mint_grant(
            post_id=target.post_id,
            target_id=target.id,
            client_id=target.client_id,
            account_id=target.account_id,
            platform=target.platform,
            attempt=target.attempt,
            key=self._key,
            lifetime_s=self._lifetime_s,
            issuer=self._issuer,
        )


@dataclass(frozen=True, slots=True)
class PostContent:
    """What every command of one post carries: its kind, its files in order as
    ``(role, media row)`` (``None``: the row is gone) and an article's title and body."""

    kind: str
    files: tuple[tuple[str, Media | None], ...] = ()
    title: str | None = None
    body_html: str | None = None


def media_ref(media: Media) -> MediaRef:
    """The command's reference to one stored file, with what the probe read of it."""
    return MediaRef(
        media_id=media.id,
        path=media.path,
        size=media.size,
        sha256=media.sha256,
        content_type=media.content_type,  # type: ignore[arg-type]
        duration_sec=media.duration_sec,
        width=media.width,
        height=media.height,
        frame_rate=media.frame_rate,
        video_codec=media.video_codec,
    )


def publish_command(
    target: Target, content: PostContent, *, reconcile: bool, grant: str
) -> PublishPost:
    """The order a publisher gets for one target's current attempt, with its ``grant``.

    A video post carries ``media``, a photo post ``images`` (in order), an
    article ``article`` (with its ``cover``). Raises ``KeyError`` when a file's
    row is gone and ``ValidationError`` when the stored post makes no command.
    """
    refs: dict[str, list[MediaRef]] = {"video": [], "image": [], "cover": []}
    for role, media in content.files:
        if media is None:
            raise KeyError(f"a {role} of post {target.post_id} is no longer stored")
        refs[role].append(media_ref(media))
    payload: dict[str, object] = {
        "post_id": target.post_id,
        "target_id": target.id,
        "client_id": target.client_id,
        "account_id": target.account_id,
        "platform": target.platform,
        "attempt": target.attempt,
        "kind": content.kind,
        "options": target.options,
        "reconcile": reconcile,
        "grant": grant,
    }
    if content.kind == "video":
        payload["media"] = refs["video"][0] if refs["video"] else None
    elif content.kind == "photo":
        payload["images"] = tuple(refs["image"])
    else:
        payload["article"] = {
            "title": content.title,
            "body_html": content.body_html,
            "cover": refs["cover"][0] if refs["cover"] else None,
        }
    return PublishPost.model_validate(payload)


def send_command(
    session: AsyncSession,
    target: Target,
    content: PostContent,
    *,
    reconcile: bool,
    grants: Granter,
    dispatched_at: datetime | None = None,
) -> None:
    """Queue ``target``'s command in the caller's transaction, inside a dispatch span.

    ``dispatched_at``: the target is first marked ``dispatched`` at that time, in the
    span, so its ``posts.status.v1`` event is in the post's trace too (outside it, the
    event's consumers each started a trace of their own: fresh13e).

    The span is what the command's trace context carries, so the publish, the
    platform calls and the result join it; its W3C trace id is kept on the
    target (``trace_id``) for the operator console. A dispatch continues the
    trace of the request that queued the target (``target.traceparent``: the
    scheduler runs outside any request, so one trace covers the dashboard's
    request to the published post, issue 13 item 4); a reconcile, or a target
    queued without one, is a child of the current span, if any.
    """
    name = f"queue {'reconcile' if reconcile else 'dispatch'} {target.platform}"
    parent = (
        propagate.extract({"traceparent": target.traceparent})
        if target.traceparent and not reconcile
        else None
    )
    with _tracer.start_as_current_span(name, context=parent) as span:
        span.set_attribute("cachalot.target_id", str(target.id))
        span.set_attribute("cachalot.post_id", str(target.post_id))
        if dispatched_at is not None:
            apply_change(session, target, Change(status="dispatched"), now=dispatched_at)
        command = grants.sign_media(
            publish_command(target, content, reconcile=reconcile, grant=grants.grant(target))
        )
        enqueue(
            session, publish_topic(cast(Platform, target.platform)), str(target.account_id), command
        )
        context = span.get_span_context()
        if context.is_valid:
            target.trace_id = trace.format_trace_id(context.trace_id)


async def contents_for(session: AsyncSession, targets: Sequence[Target]) -> dict[UUID, PostContent]:
    """post id → what its commands carry, in two queries (posts; their files with media).

    A video post without ``post_media`` rows (inserted in bulk by a benchmark
    or a test, as before post kinds) is read by ``posts.media_id``, a third
    query made only then.
    """
    post_ids = {t.post_id for t in targets}
    posts = (
        await session.execute(
            select(Post.id, Post.kind, Post.media_id, Post.article_title, Post.article_body).where(
                Post.id.in_(post_ids)
            )
        )
    ).all()
    files = await session.execute(
        select(PostMedia.post_id, PostMedia.role, Media)
        .outerjoin(Media, Media.id == PostMedia.media_id)
        .where(PostMedia.post_id.in_(post_ids))
        .order_by(PostMedia.post_id, PostMedia.position)
    )
    found: dict[UUID, list[tuple[str, Media | None]]] = {}
    for post_id, role, media in files.tuples():
        found.setdefault(post_id, []).append((role, media))
    bare = {row.media_id for row in posts if row.id not in found and row.media_id is not None}
    if bare:
        videos = {m.id: m for m in (await session.scalars(select(Media).where(Media.id.in_(bare))))}
        for row in posts:
            if row.id not in found and row.media_id is not None:
                found[row.id] = [("video", videos.get(row.media_id))]
    return {
        row.id: PostContent(
            row.kind, tuple(found.get(row.id, ())), row.article_title, row.article_body
        )
        for row in posts
    }


async def commands_waiting(
    session: AsyncSession, targets: Sequence[Target]
) -> set[tuple[str, str]]:
    """(platform, account id) of ``targets`` with a publish command still unsent in the outbox.

    Commands are keyed by account id on ``posts.publish.<platform>.v1``
    (DESIGN.md, "Kafka topics"), so an unsent row of that topic and key may
    be this target's command or check.
    """
    wanted = {publish_topic(cast(Platform, t.platform)): t.platform for t in targets}
    keys = {str(t.account_id) for t in targets}
    rows = await session.execute(
        select(OutboxMessage.topic, OutboxMessage.key)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.topic.in_(wanted),
            OutboxMessage.key.in_(keys),
        )
        .distinct()
    )
    return {(wanted[topic], key) for topic, key in rows.tuples()}


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
        recheck_s: float = 2.0,
    ) -> None:
        """``recheck_s``: seconds until a due target of an unusable account is looked at again."""
        self._factory = factory
        self._grants = grants
        self._recheck = timedelta(seconds=recheck_s)
        self._reader = reader or factory
        self._tick = _tick_engine(self._reader)
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
        """Claim due targets of accounts connected by the post's client; queue their commands.

        Returns how many were dispatched (at most ``batch``). Reads the due rows
        through ``ix_targets_due`` (never the backlog), locked ``FOR UPDATE SKIP
        LOCKED`` on PostgreSQL; see :meth:`claim` for the account rule.
        """
        now = self._clock()
        async with self._factory() as session, session.begin():
            targets = await self.claim(session, now)
            if not targets:
                return 0
            contents = await contents_for(session, targets)
            for target in targets:
                try:
                    send_command(
                        session,
                        target,
                        contents[target.post_id],
                        reconcile=False,
                        grants=self._grants,
                        dispatched_at=now,
                    )
                except (ValidationError, KeyError) as error:
                    # A row no command can be built from must not block the others.
                    logger.error("target %s cannot be dispatched: %s", target.id, error)
                    apply_change(session, target, _BROKEN, now=now)
        return len(targets)

    async def claim(self, session: AsyncSession, now: datetime) -> list[Target]:
        """The due targets (oldest first, at most ``batch``) that may be dispatched now.

        A target may be dispatched only to an account its own client holds now
        and that is connected (issue 8 item 2). Of the others, claimed rows
        leave the due set so they never block it: one whose client's account
        needs reauthorisation is paused (its reconnect resumes it, as for the
        accounts.v1 handler); any other (another client holds the account, it
        is disconnected, unknown, or its event is being applied right now) stays
        ``scheduled`` with ``due_at`` moved ``recheck_s`` ahead, in its order.
        Accounts are read by primary key, without locks (as the join before
        did); on PostgreSQL those about to be paused for are read again ``FOR
        SHARE SKIP LOCKED``, so a reconnect never misses a target paused here
        and a claim never waits for an account event.
        """
        due = list((await session.scalars(due_query(now, self._batch, lock=self._lock))).all())
        if not due:
            return []
        accounts = await account_views(session, {t.account_id for t in due})
        waiting = {i for i, a in accounts.items() if a.status in _PAUSED_FOR}
        if waiting and self._lock:
            # A pause must not miss a reconnect committed meanwhile: read those
            # again FOR SHARE (an account event then waits for this claim); one
            # being changed right now is skipped, so its targets are deferred.
            fresh = await _account_views_shared(session, waiting)
            for account_id in waiting:
                if account_id in fresh:
                    accounts[account_id] = fresh[account_id]
                else:
                    del accounts[account_id]
        ready: list[Target] = []
        later = 0
        for target in due:
            account = accounts.get(target.account_id)
            held = account is not None and account.client_id == target.client_id
            status = account.status if held and account is not None else None
            if status == "connected":
                ready.append(target)
            elif status in _PAUSED_FOR:
                apply_change(session, target, _PAUSED_FOR[status], now=now)
            else:
                # microseconds apart: deferred targets keep their order among themselves
                target.due_at = now + self._recheck + timedelta(microseconds=later)
                later += 1
                logger.info("target %s not dispatched: its account is not usable now", target.id)
        return await held_behind_waits(session, ready)

    async def seconds_to_next(self) -> float:
        """Seconds until the earliest scheduled target is due, within ``[0, max_sleep_s]``.

        One read of the first entry of ``ix_targets_due``, whatever the backlog,
        on a bare connection of the reader (see :func:`_tick_engine`).
        """
        if self._tick is not None:
            async with self._tick.connect() as connection:
                next_due = await connection.scalar(next_due_query())
        else:
            async with self._reader() as session:
                next_due = await session.scalar(next_due_query())
        if next_due is None:
            return self._max_sleep
        return max(0.0, min(self._max_sleep, (next_due - self._clock()).total_seconds()))


def _tick_engine(reader: async_sessionmaker[AsyncSession]) -> AsyncEngine | None:
    """The reader's engine, for the idle tick's one statement (``None``: use sessions).

    A bare connection skips the ORM session (about 0.2 ms of the tick's 0.5);
    on PostgreSQL in autocommit, so one SELECT costs one round trip instead of
    BEGIN, SELECT, ROLLBACK.
    """
    bind = reader.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        return None
    if bind.dialect.name == "sqlite":
        return bind
    return bind.execution_options(isolation_level="AUTOCOMMIT")


_BROKEN = Change(
    status="failed",
    reason="The post's stored settings are invalid; queue it again.",
    code="invalid_target",
    notify_operator=True,
)
"""A target no command can be built from (it must not block the others)."""

_REAUTH_PAUSE = Change(
    status="paused",
    reason="The account must be reconnected before this can be published.",
    code="reauth_required",
)
"""What the accounts.v1 handler does to a scheduled target on reauth (states.on_account)."""

_PAUSED_FOR: dict[str, Change] = {
    "reauth_required": _REAUTH_PAUSE,
    states.NEEDS_CHANNEL: Change(
        status="paused", reason=states.CHANNEL_PAUSE_REASON, code="channel_not_linked"
    ),
}
"""The pause a due target gets at claim, by its account's status (as on its accounts.v1 event)."""


def _scheduled() -> ColumnElement[bool]:
    """``status = 'scheduled'`` with the value inline, exactly ``ix_targets_due``'s predicate.

    A bound parameter would not imply the partial index's predicate in a
    generic (prepared) PostgreSQL plan, which could then not use the index.
    """
    return Target.status == literal_column("'scheduled'")


@functools.cache
def next_due_query() -> Select[datetime | None]:
    """The earliest ``due_at`` of a scheduled target: the first entry of ``ix_targets_due``.

    Built once (statements are immutable): the scheduler runs it before and after
    every claim, and building it cost more CPU than running it (py-spy, issue 9)."""
    return (
        select(Target.due_at)
        .where(_scheduled(), Target.due_at.is_not(None))
        .order_by(Target.due_at)
        .limit(1)
    )


def due_query(now: datetime, batch: int, *, lock: bool) -> Select[Target]:
    """Up to ``batch`` scheduled targets due at ``now``, from ``ix_targets_due``, in its order:
    earliest ``due_at`` first, and among equal ones :func:`claim_order` (the post's publish
    time, then its creation, then id), so an account's posts that wait for the same quota
    window go out in the order they were scheduled for (issue 10; issue 9, fresh17: they
    came back in the order they were queued), whatever order their rows were written in.

    ``lock``: ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so replicas never claim
    the same target.
    """
    query = (
        select(Target)
        .where(_scheduled(), Target.due_at <= now)
        .order_by(Target.due_at, Target.scheduled_at, Target.created_at, Target.id)
        .limit(batch)
    )
    return query.with_for_update(skip_locked=True) if lock else query


def claim_order(target: Target) -> tuple[datetime, datetime, UUID]:
    """A target's place among its account's: the post's publish time, then when it was
    queued, then its id (``ix_targets_due``'s order after ``due_at``)."""
    return (target.scheduled_at, target.created_at, target.id)


def waiting_query(account_ids: Collection[UUID]) -> Select[Target]:
    """The targets of ``account_ids`` waiting on a platform now, from ``ix_targets_platform_wait``
    (its predicate inline: ``platform_wait`` is ``platform_wait = 1`` on SQLite)."""
    return select(Target).where(
        _scheduled(), Target.platform_wait, Target.account_id.in_(account_ids)
    )


async def held_behind_waits(session: AsyncSession, ready: Sequence[Target]) -> list[Target]:
    """``ready`` (in claim order) without the targets an earlier one of their account is
    waiting before: those are scheduled again for the end of that wait, behind it.

    A platform wait (a rate-limit window, a used-up quota, flood control:
    ``Target.platform_wait``) is the account's: a post scheduled later must not take the
    slot a waiting earlier one is owed. The queue reads a wait to the whole second
    (:func:`cachalot_common.events.whole_second_wait`), so without this a later post due in
    the gap before the earlier one's wait ended went first (issue 9, fresh17: init order
    s00..s05, Z, s06). "Earlier" is :func:`claim_order` of the same client's targets (another
    client's target on an account re-assigned never holds this one); a waiting target
    dispatched earlier in this same claim holds nothing. One read of
    ``ix_targets_platform_wait``, which holds only targets waiting right now.
    """
    if not ready:
        return []
    query = waiting_query({t.account_id for t in ready})
    waiting: dict[UUID, list[Target]] = {}
    for each in (await session.scalars(query)).all():
        waiting.setdefault(each.account_id, []).append(each)
    if not waiting:
        return list(ready)
    sent: set[UUID] = set()
    kept: list[Target] = []
    for target in ready:
        blockers = [
            b
            for b in waiting.get(target.account_id, ())
            if b.id not in sent
            and b.client_id == target.client_id
            and claim_order(b) < claim_order(target)
        ]
        if not blockers:
            kept.append(target)
            sent.add(target.id)
            continue
        ends = max(cast(datetime, b.due_at) for b in blockers)
        target.due_at = ends  # equal due times: claim_order puts it behind them
        logger.info(
            "target %s held until %s: an earlier post of its account waits on the platform",
            target.id,
            ends.isoformat(),
        )
    return kept


async def _account_views_shared(session: AsyncSession, ids: set[UUID]) -> dict[UUID, AccountView]:
    """account id → status and holder, ``FOR SHARE SKIP LOCKED``: rows being changed are absent."""
    query = (
        select(Account.id, Account.status, Account.client_id)
        .where(Account.id.in_(ids))
        .with_for_update(read=True, skip_locked=True)
    )
    rows = await session.execute(query)
    return {
        account_id: AccountView(status=status, client_id=client_id)
        for account_id, status, client_id in rows.tuples()
    }


FOLLOWUP = timedelta(seconds=30)
"""After a broker loss, targets still silent this long after their status check are asked once
more (not counted), before the ordinary silence timeout."""


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
        listening_for_s: Callable[[], float] | None = None,
    ) -> None:
        self._factory = factory
        self._grants = grants
        self._listening_for_s = listening_for_s
        self._clock = clock
        self._relay_wake = relay_wake
        self._lock = claim_with_lock
        self._silent = timedelta(seconds=silent_after_s)
        self._max = max_reconciles
        self._batch = batch
        self._interval = max(0.1, min(silent_after_s / 4, 15.0))
        self._lost_before: datetime | None = None
        self._lost_wake = Wakeup()
        self._followup: tuple[datetime, datetime] | None = None  # (when, before)

    def commands_lost(self) -> None:
        """The broker came back and may have lost what it held (Tansu keeps nothing).

        Every command the queue sent before now may be gone with it, unread: the
        next round re-sends a status check for each target still in flight
        (:meth:`recheck_lost`), at once rather than after the silence timeout.
        Called by the broker watch after its consumers rejoined.
        """
        now = self._clock()
        if self._lost_before is None or now > self._lost_before:
            self._lost_before = now
        self._lost_wake.set()

    async def _wait(self, seconds: float) -> None:
        await self._lost_wake.wait(seconds)

    async def step(self) -> float:
        lost_before = self._lost_before
        if lost_before is not None:
            if await self.recheck_lost(lost_before):
                self._relay_wake.set()
            if self._lost_before == lost_before:  # no newer loss meanwhile
                self._lost_before = None
            # A broker that just came back can lose what it took right after,
            # too (Tansu: the first produce to a re-created partition races,
            # "AlreadyExists"): what is still silent a while later is asked once more.
            asked = max(self._clock(), lost_before)
            self._followup = (asked + FOLLOWUP, asked + timedelta(microseconds=1))
        elif self._followup is not None and self._clock() >= self._followup[0]:
            _, before = self._followup
            self._followup = None
            if await self.recheck_lost(before):
                self._relay_wake.set()
        if await self.reconcile_once():
            self._relay_wake.set()
        if self._followup is not None:
            return min(self._interval, FOLLOWUP.total_seconds())
        return self._interval

    async def recheck_lost(self, before: datetime) -> int:
        """Re-send a status check (``reconcile=True``) for every target in flight whose
        last command left before ``before``; the number of targets looked at.

        The broker lost those commands (or their results' offsets), so waiting
        for silence would leave the posts ``dispatched`` for the whole timeout
        (issue 11: 15 minutes). The check is not counted against
        ``max_reconciles`` (it is no silence of the publisher's) and asks the
        platform first: the publishers' guards (platform session or publish id
        recorded before the first byte, status check on redelivery) keep a
        target that did go out from being published twice. A command still in
        the outbox goes to the new broker anyway and is left alone.
        """
        total = 0
        while True:
            now = self._clock()
            query = (
                select(Target)
                .where(Target.status.in_(IN_FLIGHT), Target.last_activity_at < before)
                .order_by(Target.last_activity_at)
                .limit(self._batch)
            )
            if self._lock:
                query = query.with_for_update(skip_locked=True)
            async with self._factory() as session, session.begin():
                targets = list((await session.scalars(query)).all())
                if not targets:
                    return total
                contents = await contents_for(session, targets)
                accounts = await account_views(session, {t.account_id for t in targets})
                waiting = await commands_waiting(session, targets)
                for target in targets:
                    target.last_activity_at = max(now, before)
                    loss = states.account_loss(target.client_id, accounts.get(target.account_id))
                    if loss is not None:
                        apply_change(session, target, loss, now=now)
                        continue
                    if (target.platform, str(target.account_id)) in waiting:
                        continue  # not sent yet: it goes to the broker as it is now
                    if not self._send_status_check(session, target, contents, now=now):
                        continue
                    logger.info(
                        "re-sent target %s attempt %s for a status check: the broker "
                        "came back and may have lost its command",
                        target.id,
                        target.attempt,
                    )
            total += len(targets)

    def _send_status_check(
        self,
        session: AsyncSession,
        target: Target,
        contents: dict[UUID, PostContent],
        *,
        now: datetime,
    ) -> bool:
        """Queue the target's command again as a status check; False if it cannot be rebuilt.

        A target whose stored content no longer makes a valid command is failed
        (``_BROKEN``) instead of being re-sent.
        """
        try:
            send_command(
                session, target, contents[target.post_id], reconcile=True, grants=self._grants
            )
        except (ValidationError, KeyError) as error:
            logger.error("target %s cannot be reconciled: %s", target.id, error)
            apply_change(session, target, _BROKEN, now=now)
            return False
        return True

    async def reconcile_once(self) -> int:
        """Re-send (reconcile=True) or give up on targets silent past the timeout.

        Silence counts only while the queue can hear: if ``listening_for_s``
        (the broker watch's) says the broker or the result consumer has been
        back for less than the timeout, nothing is checked or failed this
        round (an answer may be waiting unread).
        """
        if self._listening_for_s is not None and (
            self._listening_for_s() < self._silent.total_seconds()
        ):
            return 0
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
            contents = await contents_for(session, targets)
            accounts = await account_views(session, {t.account_id for t in targets})
            waiting = await commands_waiting(session, targets)
            for target in targets:
                loss = states.account_loss(target.client_id, accounts.get(target.account_id))
                if loss is not None:  # nobody may lease for it any more: nothing to ask
                    apply_change(session, target, loss, now=now)
                    continue
                if (target.platform, str(target.account_id)) in waiting:
                    # The last command (or check) for this account has not left the
                    # outbox (broker away): nothing was asked, so silence proves
                    # nothing. Neither count nor fail; look again after the timeout.
                    target.last_activity_at = now
                    continue
                if target.reconciles >= self._max:
                    change = states.no_answer(target.platform, target.reconciles)
                    apply_change(session, target, change, now=now)
                    continue
                target.reconciles += 1
                target.last_activity_at = now
                if not self._send_status_check(session, target, contents, now=now):
                    continue
                logger.info(
                    "re-sent target %s attempt %s for a status check", target.id, target.attempt
                )
        return len(targets)
