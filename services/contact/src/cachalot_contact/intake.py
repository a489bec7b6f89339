"""The service layer: a valid form becomes a durable log record (or, from a bot, nothing)."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID, uuid4

from cachalot_common.events import utcnow
from cachalot_common.text import truncate
from cachalot_contact.log import ContactLog
from cachalot_contact.schemas import ContactForm

logger = logging.getLogger(__name__)

USER_AGENT_MAX = 512


class Intake:
    """Accepts submissions into the log; the relay takes them from there."""

    def __init__(self, log: ContactLog) -> None:
        self.log = log

    async def submit(self, form: ContactForm, *, ip: str | None, user_agent: str | None) -> UUID:
        """Store the submission durably and return its id.

        A filled honeypot gets an id like any other answer, so the bot learns
        nothing, but nothing is stored, published or logged as a lead.
        """
        if form.is_bot:
            logger.info("honeypot filled: submission dropped")
            return uuid4()
        submission = uuid4()
        agent = truncate(user_agent, USER_AGENT_MAX, ellipsis="") if user_agent else None
        await self.log.append(submitted_event(submission, form, ip=ip, user_agent=agent))
        return submission


def submitted_event(
    submission: UUID, form: ContactForm, *, ip: str | None, user_agent: str | None
) -> dict[str, Any]:
    """The ``ContactSubmitted`` event of a valid form, in its JSON form.

    Built as the dict ``ContactSubmitted(...).model_dump(mode="json")`` would
    give (a test holds them equal) without constructing and dumping the
    model: every value was validated with the form, and on the request path
    the model round trip cost more than the rest of the event.
    """
    return {
        "event_id": str(submission),
        "occurred_at": utcnow().isoformat().replace("+00:00", "Z"),
        "type": "contact.submitted",
        "name": form.name,
        "contact": form.contact,
        "contact_kind": form.contact_kind,
        "category": form.category,
        "message": form.message,
        "ip": ip,
        "user_agent": user_agent,
    }
