"""A client's right to erasure, as the notifier keeps it.

Auth erases the client and emits ``accounts.v1`` ``deleted`` for each of its accounts
(the only cause of that type); on each (idempotent) the notifier removes what names
the client (:meth:`Erasure.erase`):

* **operator messages** (``deliveries``): a message still waiting is not sent (it would
  name a person who is gone): it is finished as ``undeliverable`` with its words and
  event forgotten; the Kafka key kept to park an event (the client id, for a proposal's
  answer) is cleared on every row. Sent rows already keep ids and times only. Rows stay
  (ids of events, not of the person), so a redelivered event is still recognised and
  nothing is sent twice.
* **e-mail notices** (``email_notices``): the client id becomes the nil UUID, the facts are
  forgotten, a policy notice's key (``policy:<version>:<client id>``) becomes
  ``policy:<version>:erased-<row id>`` (its version's counts for the operator stay right),
  and one still waiting is ``skipped``.
* the client's **opt-out** of notices is deleted.

A row a sender holds at that moment loses its lease too: the call already under way may
still deliver (it left before the erasure), and its outcome is not written back (the
lease is no longer the sender's: :func:`leases.release` is then a no-op), so the words
do not come back to the row and it is not tried again.
"""

from __future__ import annotations

import logging
from uuid import UUID

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.db import checkpoint_after_commit, transaction
from cachalot_common.events import utcnow
from cachalot_notifier.models import Delivery, EmailNotice, NoticeOptOut
from cachalot_notifier.operator_api import POLICY_KEY_PREFIX, version_of

logger = logging.getLogger(__name__)

ERASED_CLIENT = UUID(int=0)
REASON = "the client erased their data"


class Erasure:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def erase(self, client_id: UUID) -> None:
        """Remove or anonymise every row naming ``client_id`` (the module's rules)."""
        wanted = str(client_id)
        async with transaction(self._sessions) as db:
            checkpoint_after_commit(db)  # no copy of the rows left in SQLite's WAL
            await db.execute(
                update(Delivery).where(Delivery.event_key == wanted).values(event_key="")
            )
            waiting = await db.execute(
                update(Delivery)
                .where(
                    Delivery.state == "pending",
                    or_(Delivery.event_json.contains(wanted), Delivery.text.contains(wanted)),
                )
                .values(
                    state="undeliverable",
                    text="",
                    plain_text="",
                    event_json="",
                    last_error=REASON,
                    claimed_by=None,
                    claimed_until=None,
                )
            )
            notices = (
                await db.scalars(select(EmailNotice).where(EmailNotice.client_id == client_id))
            ).all()
            for notice in notices:
                version = version_of(notice.dedupe_key)
                if version is not None:
                    notice.dedupe_key = f"{POLICY_KEY_PREFIX}{version}:erased-{notice.id}"
                if notice.state == "pending":
                    notice.state, notice.last_error = "skipped", REASON
                    notice.finished_at = utcnow()
                    notice.claimed_by = notice.claimed_until = None
                notice.client_id, notice.facts = ERASED_CLIENT, ""
            await db.execute(delete(NoticeOptOut).where(NoticeOptOut.client_id == client_id))
        logger.info(
            "client %s erased: %d operator messages not sent, %d e-mail notices anonymised",
            client_id,
            getattr(waiting, "rowcount", 0) or 0,
            len(notices),
        )
