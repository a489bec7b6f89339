"""The development mailbox: an SMTP server (``aiosmtpd``) that keeps every mail as a file.

Embedded mode points the notifier's ``CACHALOT_SMTP_HOST``/``PORT`` at it
(unless the user set their own relay), so a person running ``make dev``
reads the e-mails clients would get (a failed post, an account to
reconnect, a policy version) in ``var/mail/`` as ``.eml`` files, which any
mail program opens. Nothing leaves the machine. The console shows the
subject and the file, never the address.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import time
from collections.abc import Callable
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _Keeper:
    def __init__(self, directory: Path, say: Callable[[str], None]) -> None:
        self._directory = directory
        self._say = say
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        raw = envelope.content if isinstance(envelope.content, bytes) else b""
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self._numbers):04d}.eml"
        path = self._directory / name
        path.write_bytes(raw)
        subject = email.message_from_bytes(raw, policy=email.policy.default).get("Subject", "")
        self._say(f"mail kept: {subject!s} → {path}")
        return "250 2.0.0 kept"


class Mailbox:
    """An SMTP server on ``127.0.0.1:port`` writing each mail to ``directory``."""

    def __init__(self, directory: Path, port: int, say: Callable[[str], None]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = port
        self._controller = Controller(_Keeper(directory, say), hostname="127.0.0.1", port=port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()
