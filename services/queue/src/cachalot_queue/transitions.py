"""Persisting a :class:`~cachalot_queue.states.Change`: the row and its events together.

Every status change (and a publishing progress crossing a
:data:`PROGRESS_STEP_PERCENT` step) writes ``posts.status.v1`` (and, for failures people must
act on, ``notify.v1`` to the operator) into the outbox inside the caller's
transaction, so the change and its announcement are one unit of work.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, cast
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cachalot_common import platforms
from cachalot_common.events import TEXT_START_GRAPHEMES, PostStatusChanged, TargetStatus
from cachalot_common.text import truncate
from cachalot_common.topics import POSTS_STATUS, Platform
from cachalot_queue.audit import record_transition
from cachalot_queue.metrics import FAILURES, RETRIES, count_on_commit
from cachalot_queue.outbox import enqueue
from cachalot_queue.states import (
    IN_FLIGHT,
    AccountView,
    Change,
    TargetState,
    can_move,
)
from cachalot_queue.tables import Account, Target

OPERATOR_KEY = "operator"


def snapshot(target: Target) -> TargetState:
    return TargetState(
        status=cast(TargetStatus, target.status),
        attempt=target.attempt,
        budget_start=target.budget_start,
        platform=target.platform,
        bytes_sent=target.bytes_sent,
        waits=target.waits or 0,
        budget_started_at=target.budget_started_at,
    )


async def account_views(session: AsyncSession, ids: set[UUID]) -> dict[UUID, AccountView]:
    """account id → what the state rules need of it (accounts never seen are absent)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Account.id, Account.status, Account.client_id).where(Account.id.in_(ids))
    )
    return {
        account_id: AccountView(status=status, client_id=client_id)
        for account_id, status, client_id in rows.tuples()
    }


def apply_change(session: AsyncSession, target: Target, change: Change, *, now: datetime) -> bool:
    """Apply ``change`` to ``target`` and queue its events; False if not allowed."""
    if change.touch_only:
        before = progress_step(target.bytes_sent, target.bytes_total)
        target.bytes_sent = (
            change.bytes_sent if change.bytes_sent is not None else target.bytes_sent
        )
        target.bytes_total = change.bytes_total or target.bytes_total
        target.last_activity_at = now
        if progress_step(target.bytes_sent, target.bytes_total) != before:
            announce(session, target, cast(TargetStatus, target.status), change)
        return True
    previous = cast(TargetStatus, target.status)
    if not can_move(previous, change.status):
        return False
    target.status = change.status
    target.updated_at = now
    # marks a due time that ends the platform's wait (dispatch.held_behind_waits); any
    # other change of status ends the mark
    target.platform_wait = change.status == "scheduled" and change.platform_wait
    if change.status == "dispatched":
        if target.attempt == target.budget_start:  # the budget's first dispatch
            target.budget_started_at = now
            target.waits = 0
        target.attempt += 1
        target.reconciles = 0
        target.bytes_sent = None
        target.due_at = None
    elif change.status == "scheduled":
        target.due_at = change.due_at or max(now, target.due_at or now)
        if change.platform_wait:
            target.waits = (target.waits or 0) + 1
    if change.status in IN_FLIGHT:
        target.last_activity_at = now
    if change.bytes_sent is not None:
        target.bytes_sent = change.bytes_sent
    if change.bytes_total is not None:
        target.bytes_total = change.bytes_total
    if change.remote_id is not None:
        target.remote_id = change.remote_id
    if change.remote_url is not None:
        target.remote_url = change.remote_url
    if change.status == "published":
        target.last_error = target.last_code = None
    elif change.code is not None:
        target.last_error = change.reason
        target.last_code = change.code
    _count(session, target.platform, previous, change)
    announce(session, target, previous, change)
    record_transition(session, target, change.status, now, reason=change.reason, code=change.code)
    return True


PROGRESS_STEP_PERCENT = 5
"""A progress update is announced on ``posts.status.v1`` only when it crosses a step of this
many percent (at most 20 events per attempt, whatever the publisher reports)."""


def progress_step(sent: int | None, total: int | None) -> int | None:
    """The :data:`PROGRESS_STEP_PERCENT` step ``sent`` of ``total`` bytes is in (None: unknown)."""
    if sent is None or not total:
        return None
    return min(100, 100 * sent // total) // PROGRESS_STEP_PERCENT


def _count(session: AsyncSession, platform: str, previous: TargetStatus, change: Change) -> None:
    """Failures for good, and failed attempts scheduled again, once the change commits."""
    reason = change.code or "unknown"
    if change.status == "failed":
        count_on_commit(session, lambda: FAILURES.labels(platform, reason).inc())
    elif change.status == "scheduled" and previous in IN_FLIGHT and change.code:
        count_on_commit(session, lambda: RETRIES.labels(platform, reason).inc())


TOLD: Final = frozenset({"failed", "unconfirmed"})
"""The statuses the notifier tells people of (the client's e-mail, the operator's message)."""


def text_start(target: Target) -> str | None:
    """The start of ``target``'s own words (the registry's ``text_fields``; else its
    article's title, kept on the target so a status event needs no other row),
    :data:`TEXT_START_GRAPHEMES` grapheme clusters at most with '…' when cut (UAX #29,
    :func:`cachalot_common.text.truncate`); None when it has none."""
    options = target.options or {}
    words = platforms.get(target.platform).text_of(options) or target.article_title or ""
    return truncate(words, TEXT_START_GRAPHEMES, count="graphemes") or None


def _for_people(target: Target) -> dict[str, str | None]:
    """Which account and which post, as the people told of ``target`` know them."""
    return {"account_name": target.account_name, "text_start": text_start(target)}


def announce(
    session: AsyncSession, target: Target, previous: TargetStatus | None, change: Change
) -> None:
    enqueue(
        session,
        POSTS_STATUS,
        str(target.post_id),
        PostStatusChanged(
            post_id=target.post_id,
            target_id=target.id,
            client_id=target.client_id,
            account_id=target.account_id,
            platform=cast(Platform, target.platform),
            status=change.status,
            previous=previous,
            reason=change.reason,
            code=change.code,
            remote_url=target.remote_url if change.status == "published" else None,
            attempt=target.attempt,
            bytes_sent=target.bytes_sent if change.status in IN_FLIGHT else None,
            bytes_total=target.bytes_total if change.status in IN_FLIGHT else None,
            **(_for_people(target) if change.status in TOLD else {}),
        ),
    )
    # the operator hears of a failure from the notifier, which reads this very event
    # (posts.status.v1, status "failed"); a notify.v1 here as well sent it twice (issue 10)
