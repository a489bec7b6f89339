"""The audit trail of deliveries and posts: who did what, and when (issue 13 item 2).

People's acts (an operator's delivery and proposals, a client's edit, approval or
request for changes) are written by :mod:`cachalot_queue.deliveries` as
:class:`~cachalot_queue.tables.AuditEntry` rows in the transaction of the act.
The queue's own steps of a post: when an attempt's token lease was granted
(``leased``, at the time the publisher had it from auth: :func:`record_lease`, from
the attempt's first result, which carries ``PublishResult.leased_at``; a dispatch
whose lease auth refused has no such step) and how the attempt ended
(``published``, ``failed``, ``cancelled``, ``unconfirmed``, with the reason's
code and words), recorded by :func:`record_transition` from
:func:`cachalot_queue.transitions.apply_change`; those rows are gathered on the
session and written by one multi-row INSERT just before it commits, as the
outbox's are, so the scheduler's transaction gains no round trip.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from cachalot_queue.outbox import OutboxSession
from cachalot_queue.tables import AuditEntry, Target

_PENDING = "cachalot_audit"

#: Target statuses that are a step of the trail, and the action each is written as.
RECORDED = {
    "published": "published",
    "failed": "failed",
    "cancelled": "cancelled",
    "unconfirmed": "unconfirmed",
}


def record_transition(
    session: AsyncSession,
    target: Target,
    status: str,
    at: Any,
    *,
    reason: str | None = None,
    code: str | None = None,
) -> None:
    """Add the trail's entry for ``target`` reaching ``status`` (if it is one of
    :data:`RECORDED`), written with the caller's transaction. ``reason``/``code``: why an
    attempt ended other than published (the change's), kept in ``detail``."""
    action = RECORDED.get(status)
    if action is not None:
        _record(session, target, action, at, reason=reason, code=code)


def record_lease(session: AsyncSession, target: Target, at: datetime) -> None:
    """Add the trail's ``leased`` entry: ``target``'s current attempt had its token lease
    at ``at`` (the publisher's ``PublishResult.leased_at``). The caller writes it once
    per attempt: from the attempt's first result (the target still ``dispatched``)."""
    _record(session, target, "leased", at)


def _record(
    session: AsyncSession,
    target: Target,
    action: str,
    at: Any,
    *,
    reason: str | None = None,
    code: str | None = None,
) -> None:
    if not isinstance(session.sync_session, OutboxSession):
        return
    detail: dict[str, Any] = {"platform": target.platform, "account_id": str(target.account_id)}
    if action == "leased":
        detail["attempt"] = target.attempt
    elif action == "published":
        if target.remote_url:
            detail["remote_url"] = target.remote_url
    else:
        if code is not None:
            detail["code"] = code
        if reason is not None:
            detail["reason"] = reason
    session.info.setdefault(_PENDING, []).append(
        {
            "client_id": target.client_id,
            "delivery_id": None,
            "proposal_id": None,
            "post_id": target.post_id,
            "target_id": target.id,
            "action": action,
            "actor_role": "queue",
            "actor_id": None,
            "at": at,
            "detail": detail,
        }
    )


@sa_event.listens_for(OutboxSession, "before_commit")
def _write_audit(session: Session) -> None:
    rows = session.info.pop(_PENDING, None)
    if rows:
        session.execute(insert(AuditEntry), rows)


@sa_event.listens_for(OutboxSession, "after_rollback")
def _drop_audit(session: Session) -> None:
    session.info.pop(_PENDING, None)
