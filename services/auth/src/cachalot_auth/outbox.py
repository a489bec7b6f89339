"""Outbox for ``accounts.v1`` and ``sessions.v1``: the event is written in the change's transaction.

The shared relay (``cachalot_common.outbox.OutboxRelay``, over
:class:`cachalot_auth.models.OutboxMessage`) publishes unsent rows in id order
and marks them sent; a broker that is down (or restarted empty) just means
the rows wait. Delivery is at-least-once: a crash between publish and mark
re-sends, and consumers dedupe on ``event_id``.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from cachalot_auth.models import Account, OutboxMessage
from cachalot_common import topics
from cachalot_common.events import (
    AccountChanged,
    CreatorInfoFacts,
    SessionEnded,
    SessionEndType,
)


def account_event(
    session: AsyncSession,
    account: Account,
    type_: str,
    *,
    reason: str | None = None,
    code: str | None = None,
    creator_info: CreatorInfoFacts | None = None,
) -> AccountChanged:
    """Add an ``accounts.v1`` event about ``account`` to the current transaction
    (``creator_info``: TikTok's, when this event carries a read of it)."""
    event = AccountChanged(
        type=type_,  # type: ignore[arg-type]
        account_id=account.id,  # type: ignore[arg-type]
        client_id=account.client_id,  # type: ignore[arg-type]
        platform=account.platform,  # type: ignore[arg-type]
        display_name=account.display_name,
        scopes=account.scope_list(),
        communities=account.community_list(),
        community_details=account.community_details(),
        platform_user_id=account.platform_user_id,
        reason=reason,
        code=code,
        creator_info=creator_info,
    )
    session.add(
        OutboxMessage(topic=topics.ACCOUNTS, key=account.id, payload=event.model_dump_json())
    )
    return event


def session_event(
    session: AsyncSession,
    type_: SessionEndType,
    *,
    client_id: str | UUID,
    expires_at: datetime,
    session_id: str | None = None,
) -> SessionEnded:
    """Add a ``sessions.v1`` event (key = client id) to the current transaction.

    ``expires_at``: when the last session it ends would have expired, so
    other services know how long to refuse it.
    """
    event = SessionEnded(
        type=type_,
        client_id=UUID(str(client_id)),
        session_id=session_id,
        expires_at=expires_at,
    )
    session.add(
        OutboxMessage(topic=topics.SESSIONS, key=str(client_id), payload=event.model_dump_json())
    )
    return event
