"""The service layer: a valid form becomes a durable log record (or, from a bot, nothing)."""

from __future__ import annotations

import logging
from uuid import UUID, uuid4

from cachalot_common.events import ContactSubmitted, utcnow
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
        # Every value was validated with the form: construct without validating
        # again, passing every field (pydantic's default factories are slow here).
        event = ContactSubmitted.model_construct(
            event_id=uuid4(),
            occurred_at=utcnow(),
            type="contact.submitted",
            name=form.name,
            contact=form.contact,
            contact_kind=form.contact_kind,
            category=form.category,
            message=form.message,
            ip=ip,
            user_agent=user_agent[:USER_AGENT_MAX] if user_agent else None,
        )
        await self.log.append(event.model_dump(mode="json"))
        return event.event_id
