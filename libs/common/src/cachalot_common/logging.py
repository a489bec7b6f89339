"""Process logging: JSON lines carrying the trace id, secrets masked.

One call, :func:`setup_logging`, at process start. JSON is the default (what a
log pipeline wants); ``CACHALOT_LOG_FORMAT=text`` gives readable lines for
embedded mode. httpx's request log line is silenced below WARNING because it
prints full URLs, and a Telegram URL carries the bot token.
"""

from __future__ import annotations

import logging
import sys
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


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        trace_id = getattr(record, "trace_id", None)
        return f"{line} trace={trace_id}" if trace_id else line


def setup_logging(service: str, *, level: str = "INFO", fmt: str = "json") -> None:
    """Configure the root logger once for this process."""
    handler = logging.StreamHandler(sys.stderr)
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


def log_extra(**fields: Any) -> dict[str, Any]:
    """Structured fields for a log call, masked like the message."""
    return {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
