"""What the notifier tells operators: how each privacy-policy version's e-mails went.

``GET /api/v1/operator/policy-deliveries`` (an operator's session; a client's
is a 403, none a 401; routed by the gateway, ``cachalot_embedded.routes``)
answers ``{items: [{version, sent, failed, pending, skipped}]}``, newest
version first, counted from the ``email_notices`` rows of kind
``policy_changed`` (one per version and client, ``dedupe_key``
``policy:<version>:<client id>``): ``sent`` — the SMTP server accepted it;
``failed`` — refused for good (5xx); ``pending`` — recorded, not sent yet
(waiting for its turn or a retry); ``skipped`` — no address any more, or the
client was erased. Auth's own count (``recipients`` of
``GET /api/v1/operator/policy-versions``) is how many e-mails were
*requested*; these are what became of them. Addresses are never read here.

The session cookie is checked here as at the queue
(:class:`~cachalot_common.sessions.SessionVerifier`): signature, expiry,
role, and the ends auth announces on ``sessions.v1``, which every notifier
replica reads whole into memory (:class:`SessionEnds`, a broadcast
subscriber). Unlike the queue's, the copy is not kept in a table: a broker
that lost ``sessions.v1`` makes a notifier that restarts after it forget the
ends announced before (a signed-out operator's cookie then reads these
counts, nothing more, until it expires).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cachalot_common.events import SessionEnded
from cachalot_common.problems import problem_responses
from cachalot_common.sessions import CurrentOperator, MemoryRevocations
from cachalot_notifier.mail_render import POLICY_CHANGED
from cachalot_notifier.models import EmailNotice

PATH = "/api/v1/operator/policy-deliveries"
POLICY_KEY_PREFIX = "policy:"
STATES = ("sent", "failed", "pending", "skipped")


def policy_key(version: str, client_id: object) -> str:
    """The ``dedupe_key`` of one client's e-mail about ``version`` (one per pair)."""
    return f"{POLICY_KEY_PREFIX}{version}:{client_id}"


def version_of(dedupe_key: str) -> str | None:
    """The version in a :func:`policy_key` (the client id, a UUID, has no ``:``); else None."""
    if not dedupe_key.startswith(POLICY_KEY_PREFIX):
        return None
    version, colon, _ = dedupe_key[len(POLICY_KEY_PREFIX) :].rpartition(":")
    return version if colon and version else None


@dataclass(frozen=True)
class PolicyDeliveries:
    """One version's e-mails by state (counts of clients)."""

    version: str
    sent: int
    failed: int
    pending: int
    skipped: int
    first_recorded_at: str


async def policy_deliveries(
    sessions: async_sessionmaker[AsyncSession],
) -> list[PolicyDeliveries]:
    """Every version the notifier recorded e-mails for, newest first (first row recorded)."""
    async with sessions() as db:
        rows = (
            await db.execute(
                select(EmailNotice.dedupe_key, EmailNotice.state, EmailNotice.created_at)
                .where(EmailNotice.kind == POLICY_CHANGED)
                .order_by(EmailNotice.id)
            )
        ).all()
    counts: dict[str, Counter[str]] = {}
    first: dict[str, str] = {}
    for key, state, created_at in rows:
        version = version_of(key)
        if version is None:
            continue
        counts.setdefault(version, Counter())[state] += 1
        first.setdefault(version, created_at.isoformat())
    found = [
        PolicyDeliveries(
            version=version,
            sent=counted["sent"],
            failed=counted["failed"],
            pending=counted["pending"],
            skipped=counted["skipped"],
            first_recorded_at=first[version],
        )
        for version, counted in counts.items()
    ]
    return sorted(found, key=lambda d: (d.first_recorded_at, d.version), reverse=True)


class SessionEnds:
    """The ``sessions.v1`` handler: each end goes into ``memory`` (idempotent)."""

    def __init__(self, memory: MemoryRevocations) -> None:
        self.memory = memory

    async def on_session(self, event: SessionEnded) -> None:
        """Apply one end; ends whose sessions have all expired are forgotten (``prune``)."""
        self.memory.prune(time.time())
        until = int(event.expires_at.timestamp())
        if event.type == "revoked" and event.session_id is not None:
            self.memory.revoke_session(event.session_id, expires_at=until)
        else:
            self.memory.revoke_client(
                event.client_id, issued_up_to=event.occurred_at.timestamp(), expires_at=until
            )


def create_router(sessions: async_sessionmaker[AsyncSession]) -> APIRouter:
    """``GET`` :data:`PATH` (operators only)."""
    router = APIRouter(tags=["operator"])

    @router.get(PATH, responses=problem_responses(401, 403))
    async def deliveries_by_version(operator: CurrentOperator) -> dict[str, object]:
        """How each privacy-policy version's e-mails went: ``{items: [{version, sent,
        failed, pending, skipped, first_recorded_at}]}`` (clients per state), newest first.
        401 without a session, 403 for a client's."""
        return {
            "items": [
                {
                    "version": d.version,
                    "sent": d.sent,
                    "failed": d.failed,
                    "pending": d.pending,
                    "skipped": d.skipped,
                    "first_recorded_at": d.first_recorded_at,
                }
                for d in await policy_deliveries(sessions)
            ]
        }

    return router
