"""The audit trail of deliveries and posts: who did what, and when (issue 13 item 2).

People's acts (an operator's delivery and proposals, a client's edit, approval or
request for changes) are written by :mod:`cachalot_queue.deliveries` as
:class:`~cachalot_queue.tables.AuditEntry` rows in the transaction of the act.
The queue's own steps of a post, each dispatch (whose publish grant lets the
publisher lease the account's token: ``leased``) and how the attempt ended
(``published``, ``failed``, ``cancelled``, ``unconfirmed``, with the reason's
code and words), are recorded by :func:`record_transition` from
:func:`cachalot_queue.transitions.apply_change`; those rows are gathered on the
session and written by one multi-row INSERT just before it commits, as the
outbox's are, so the scheduler's transaction gains no round trip.
"""

from __future__ import annotations

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
    "dispatched": "leased",
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
    if action is None or not isinstance(session.sync_session, OutboxSession):
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
