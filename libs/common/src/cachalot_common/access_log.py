"""HTTP access log: IP, time, method, path, status, duration; kept 14 days.

The privacy promise says HTTP logs are kept 14 days: the file handler rotates
at midnight UTC and keeps 14 old files, so nothing older exists on disk.
Query strings are not logged (OAuth callbacks carry codes in them), and the
path is redacted like any log line: a Telegram Bot API path carries the token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cachalot_common.net import client_ip
from cachalot_common.redaction import redact

RETENTION_DAYS = 14
access_logger = logging.getLogger("cachalot.access")


def setup_access_log(directory: Path | None, service: str) -> None:
    """Send access records to a daily-rotated file kept ``RETENTION_DAYS`` days."""
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    handler = TimedRotatingFileHandler(
        directory / f"{service}-access.log",
        when="midnight",
        utc=True,
        backupCount=RETENTION_DAYS,
        encoding="utf-8",
    )
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_logger.addHandler(handler)
    access_logger.propagate = False
    access_logger.setLevel(logging.INFO)


class AccessLogMiddleware:
    """Pure ASGI middleware (does not buffer streaming bodies)."""

    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in {"/healthz", "/readyz"}:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if access_logger.isEnabledFor(logging.INFO):
                from starlette.requests import Request

                ip = client_ip(Request(scope), self.trusted)
                access_logger.info(
                    '%s %s "%s %s" %d %.1fms',
                    time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    ip or "-",
                    scope.get("method", "-"),
                    redact(str(scope.get("path", "-"))),
                    status,
                    (time.perf_counter() - started) * 1000,
                )
