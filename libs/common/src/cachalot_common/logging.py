"""Process logging: JSON lines carrying the trace id, secrets masked.

One call, :func:`setup_logging`, at process start. JSON is the default (what a
log pipeline wants); ``CACHALOT_LOG_FORMAT=text`` gives readable lines for
embedded mode. httpx's request log line is silenced below WARNING because it
prints full URLs, and a Telegram URL carries the bot token. The broker
client's repeated complaints while a broker is away are cut to one line per
kind every 30 s (:class:`RepeatFilter`).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from cachalot_common.redaction import redact


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id``/``span_id`` of the current span to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else None
        return True


class RedactingFilter(logging.Filter):
    """Masks secrets in the message, its arguments and any exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            formatter = logging.Formatter()
            record.exc_text = redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


class RepeatFilter(logging.Filter):
    """Lets one line of each repeated broker-client complaint through per ``window_s``.

    While the broker is away, aiokafka reports every reconnect attempt (ten a
    second per connection) and FastStream every failed poll: thousands of
    identical lines a minute, which drown what matters (issue 11: 26,000 in
    five minutes). Records of the ``prefixes`` loggers are grouped by logger and
    message template; the first of a group is kept, the rest are dropped until
    ``window_s`` has passed, and the next kept one says how many were dropped.
    Other loggers pass untouched.
    """

    def __init__(
        self,
        window_s: float = 30.0,
        prefixes: tuple[str, ...] = ("aiokafka", "faststream", "kafka"),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window_s = window_s
        self.prefixes = prefixes
        self._clock = clock
        self._groups: dict[tuple[str, str], tuple[float, int]] = {}  # → (kept at, dropped)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not record.name.startswith(self.prefixes):
            return True
        key = (record.name, str(record.msg)[:200])
        now = self._clock()
        kept_at, dropped = self._groups.get(key, (-self.window_s - 1, 0))
        if now - kept_at < self.window_s:
            self._groups[key] = (kept_at, dropped + 1)
            return False
        if len(self._groups) > 1000:  # bounded: forget the oldest groups
            self._groups.clear()
        self._groups[key] = (now, 0)
        if dropped:
            try:
                message = record.getMessage()
            except Exception:  # a broken format string must not lose the record
                message = str(record.msg)
            record.msg = f"{message} ({dropped} more like this in the last {self.window_s:.0f}s)"
            record.args = None
        return True


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id = getattr(record, "trace_id", None)
        return f"{line} trace={trace_id}" if trace_id else line


def setup_logging(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    """Configure the root logger once for this process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatFilter())
    handler.addFilter(TraceContextFilter())
    handler.addFilter(RedactingFilter())
    formatter: logging.Formatter
    if fmt == "text":
        formatter = _TextFormatter("%(asctime)s %(levelname)-5s %(name)s: %(message)s")
    else:
        formatter = JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "aiokafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "faststream"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # FastStream sets its logger to INFO on import: without this its two lines per
    # consumed message ("Received", "Processed") ignored CACHALOT_LOG_LEVEL
    logging.getLogger("faststream").setLevel(logging.NOTSET)


def log_extra(**fields: Any) -> dict[str, Any]:
    """Structured fields for a log call, masked like the message."""
    return {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
