"""Secrets never reach log lines, even when code logs URLs or exceptions."""

from __future__ import annotations

import io
import logging

from cachalot_common.logging import RedactingFilter, TraceContextFilter
from cachalot_common.redaction import redact, register_secret

BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_telegram_bot_token_in_a_url_is_masked() -> None:
    url = f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"
    assert BOT_TOKEN not in redact(url)
    assert redact(url).endswith("/sendMessage")


def test_query_string_secrets_are_masked() -> None:
    text = "GET /cb?code=abc123&state=xyz&access_token=act.secretsecret"
    out = redact(text)
    assert "abc123" not in out
    assert "act.secretsecret" not in out
    assert "state=xyz" in out


def test_registered_secret_is_masked_wherever_it_appears() -> None:
    register_secret("s3cr3t-value-that-is-long")
    assert redact("boom: s3cr3t-value-that-is-long!") == "boom: ***!"


def test_log_records_and_tracebacks_are_redacted() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TraceContextFilter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("calling %s", f"https://x/bot{BOT_TOKEN}/getMe")
        try:
            raise RuntimeError(f"failed https://x/bot{BOT_TOKEN}/sendMessage")
        except RuntimeError:
            logger.exception("send failed")
    finally:
        logger.removeHandler(handler)
    assert BOT_TOKEN not in stream.getvalue()
    assert "send failed" in stream.getvalue()


def test_access_log_lines_never_carry_a_token_from_the_path(tmp_path) -> None:
    import asyncio

    from cachalot_common.access_log import AccessLogMiddleware, access_logger, setup_access_log

    setup_access_log(tmp_path, "svc")

    async def app(scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        return {"type": "http.request", "body": b""}

    async def send(message) -> None:
        return None

    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/telegram/bot{BOT_TOKEN}/sendMessage",
        "query_string": b"",
        "headers": [],
        "client": ("127.0.0.1", 1),
    }
    asyncio.run(AccessLogMiddleware(app)(scope, receive, send))
    for handler in access_logger.handlers:
        handler.flush()
    text = (tmp_path / "svc-access.log").read_text()
    assert "/sendMessage" in text
    assert BOT_TOKEN not in text
