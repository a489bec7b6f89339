"""Sends recorded e-mail notices over SMTP, and reads the server's reply by RFC 5321.

A background loop (one per replica) takes due rows of ``email_notices`` with
a lease (:class:`~cachalot_notifier.mail_store.EmailStore`), looks the
client up at auth (address, language), writes the mail in that language
and hands it to the SMTP server with ``aiosmtplib``. The reply decides:

* 2yz: sent; the row keeps the ``Message-ID`` and forgets the facts;
* 4yz (RFC 5321 §4.2.1 "transient negative completion"), a dropped or
  refused connection, a timeout, auth unreachable: tried again with
  exponential backoff and jitter, forever (the row is durable);
* 530/534/535/538 (authentication, RFC 4954 §6): our settings are wrong,
  not the mail: retried with backoff, logging which settings to check;
* other 5yz ("permanent negative completion"): recorded ``failed`` with the
  code, never retried;
* a client who switched notices off (except for the policy notice), who gave
  no address, or who no longer exists: recorded ``skipped``.

The address is never logged, nor put in a row or an exception: an SMTP
server's text often repeats it (``550 <bob@…>: no such user``), so only its
reply code and enhanced status code are kept.

At least once: a process that dies between the server's 250 and the record
of it leaves a lease that expires, and the mail is sent again, with the same
``Message-ID`` (SMTP has no idempotency key that could close that window).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
from aiosmtplib.errors import SMTPRecipientsRefused
from pydantic import SecretStr

from cachalot_common.wakeup import wait_event
from cachalot_notifier.contacts import ContactBook, ContactUnavailable
from cachalot_notifier.mail_render import ALWAYS_SENT, compose, write
from cachalot_notifier.mail_store import ClaimedNotice, EmailStore
from cachalot_notifier.unsubscribe import OptOuts, UnsubscribeLinks

logger = logging.getLogger(__name__)

AUTH_CODES = frozenset({530, 534, 535, 538})
_ENHANCED = re.compile(r"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


class SmtpRefused(Exception):
    """The server answered a negative reply: ``code`` (RFC 5321) and the enhanced status."""

    def __init__(self, code: int, enhanced: str | None, stage: str) -> None:
        self.code = code
        self.enhanced = enhanced
        self.stage = stage
        super().__init__(f"SMTP {code}{' ' + enhanced if enhanced else ''} at {stage}")

    @property
    def permanent(self) -> bool:
        return 500 <= self.code <= 599 and self.code not in AUTH_CODES


class SmtpUnreachable(Exception):
    """No reply to read: connection refused or dropped, TLS failure, timeout."""


class MailTransport(Protocol):
    async def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        """Hand one message over; raises :class:`SmtpRefused` or :class:`SmtpUnreachable`."""
        ...


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    starttls: bool
    username: str | None
    password: SecretStr | None
    timeout_s: float


def _enhanced(message: str) -> str | None:
    found = _ENHANCED.match(message or "")
    return found.group(1) if found else None


class SmtpTransport:
    """One SMTP session per message (``aiosmtplib``): connect, STARTTLS, AUTH, send, QUIT."""

    def __init__(self, server: SmtpServer) -> None:
        self._server = server

    async def send(self, message: EmailMessage, *, sender: str, recipient: str) -> None:
        server = self._server
        client = aiosmtplib.SMTP(
            hostname=server.host,
            port=server.port,
            start_tls=server.starttls,
            username=server.username,
            password=server.password.get_secret_value() if server.password else None,
            timeout=server.timeout_s,
        )
        try:
            async with client:
                await client.send_message(message, sender=sender, recipients=[recipient])
        except SMTPRecipientsRefused as refused:
            first = refused.recipients[0] if refused.recipients else None
            code = first.code if first is not None else 550
            raise SmtpRefused(code, _enhanced(first.message if first else ""), "RCPT") from None
        except aiosmtplib.SMTPResponseException as error:
            stage = type(error).__name__.removeprefix("SMTP").removesuffix("Error")
            raise SmtpRefused(error.code, _enhanced(error.message), stage) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError, socket.gaierror) as error:
            raise SmtpUnreachable(f"SMTP server unreachable ({type(error).__name__})") from None


@dataclass(frozen=True)
class MailPolicy:
    sender: str
    dashboard_url: str
    backoff_initial_s: float
    backoff_max_s: float
    lease_s: float
    poll_s: float = 1.0
    batch: int = 20


Clock = Callable[[], float]


class Mailer:
    """The background loop that drains ``email_notices``."""

    def __init__(
        self,
        *,
        store: EmailStore,
        contacts: ContactBook,
        transport: MailTransport,
        links: UnsubscribeLinks,
        opt_outs: OptOuts,
        policy: MailPolicy,
        clock: Clock = time.time,
    ) -> None:
        self._store = store
        self._contacts = contacts
        self._transport = transport
        self._links = links
        self._opt_outs = opt_outs
        self._policy = policy
        self._clock = clock
        self._owner = f"mailer-{uuid.uuid4().hex[:12]}"
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """A notice was recorded: look at the table now rather than at the next poll."""
        self._woken.set()

    async def run(self) -> None:
        """Send due notices until cancelled; a failure of one pass is logged, then retried."""
        while True:
            try:
                await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("mail sender pass failed; trying again")
            self._woken.clear()
            await wait_event(self._woken, self._policy.poll_s)  # never swallows a cancel

    async def drain_once(self) -> int:
        """One pass: claim and send every due notice; returns how many were tried."""
        ids = await self._store.due(now=self._clock(), limit=self._policy.batch)
        tried = 0
        for row_id in ids:
            row = await self._store.claim(
                row_id, owner=self._owner, now=self._clock(), lease_s=self._policy.lease_s
            )
            if row is None:  # another replica has it
                continue
            tried += 1
            await self._deliver(row)
        return tried

    async def _deliver(self, row: ClaimedNotice) -> None:
        try:
            contact = await self._contacts.lookup(row.client_id)
        except ContactUnavailable as error:
            await self._later(row, f"contact lookup: {error}")
            return
        if contact is None or contact.email is None:
            why = "client no longer exists" if contact is None else "client gave no e-mail"
            logger.info("e-mail notice %s skipped: %s", row.dedupe_key, why)
            await self._store.finish(row, owner=self._owner, state="skipped", error=why)
            return
        if row.kind not in ALWAYS_SENT and await self._opt_outs.is_off(row.client_id):
            logger.info("e-mail notice %s skipped: the client switched notices off", row.dedupe_key)
            await self._store.finish(
                row, owner=self._owner, state="skipped", error="notices switched off"
            )
            return
        try:
            written = write(
                row.kind, row.facts, contact.language, dashboard_url=self._policy.dashboard_url
            )
        except KeyError:
            await self._store.finish(
                row, owner=self._owner, state="failed", error=f"unknown notice kind {row.kind}"
            )
            return
        unsubscribe = None if row.kind in ALWAYS_SENT else self._links.url(row.client_id)
        message = compose(
            written,
            language=contact.language,
            sender=self._policy.sender,
            recipient=contact.email,
            dedupe_key=row.dedupe_key,
            unsubscribe_url=unsubscribe,
        )
        try:
            await self._transport.send(message, sender=self._policy.sender, recipient=contact.email)
        except SmtpRefused as refused:
            await self._refused(row, refused)
            return
        except SmtpUnreachable as error:
            await self._later(row, str(error))
            return
        logger.info(
            "e-mail notice %s (%s) sent to client %s", row.dedupe_key, row.kind, row.client_id
        )
        await self._store.finish(
            row, owner=self._owner, state="sent", message_id=str(message["Message-ID"])
        )

    async def _refused(self, row: ClaimedNotice, refused: SmtpRefused) -> None:
        if refused.permanent:
            logger.error(
                "e-mail notice %s refused for good by the SMTP server (%s); recorded as failed",
                row.dedupe_key,
                refused,
            )
            await self._store.finish(row, owner=self._owner, state="failed", error=str(refused))
        elif refused.code in AUTH_CODES:
            logger.error(
                "the SMTP server refused our login (%s): check CACHALOT_SMTP_USERNAME and "
                "CACHALOT_SMTP_PASSWORD; notice %s is kept and tried again",
                refused,
                row.dedupe_key,
            )
            await self._later(row, str(refused))
        else:
            await self._later(row, str(refused))

    async def _later(self, row: ClaimedNotice, error: str) -> None:
        policy = self._policy
        exponent = min(max(row.attempts - 1, 0), 30)
        wait = min(policy.backoff_initial_s * 2**exponent, policy.backoff_max_s)
        wait += random.uniform(0, policy.backoff_initial_s)
        logger.warning(
            "e-mail notice %s not sent (attempt %d): %s; next try in %.1fs",
            row.dedupe_key,
            row.attempts,
            error,
            wait,
        )
        await self._store.reschedule(row, owner=self._owner, at=self._clock() + wait, error=error)
