"""Keeps secrets out of logs, span attributes and exception text.

Secrets reach text in two ways: as values we know (settings' SecretStr, a
token just decrypted) and as shapes we recognise (a Telegram bot token in a
URL path, ``access_token=`` in a query). Both are scrubbed here, once, and
logging and telemetry call :func:`redact`.
"""

from __future__ import annotations

import re
import threading
from urllib.parse import urlsplit, urlunsplit

_MASK = "***"
_known: set[str] = set()
_lock = threading.Lock()

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Telegram Bot API: /bot<id>:<secret>/method
    (re.compile(r"bot\d{3,}:[A-Za-z0-9_-]{10,}"), "bot" + _MASK),
    # query-string and form secrets (upload_id: a resumable session URI is a capability)
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|client_secret|upload_token|upload_id|code_verifier|"
            r"id_token|token|code|password|secret)=([^&\s\"']+)"
        ),
        r"\1=" + _MASK,
    ),
    # Authorization headers rendered as text
    (re.compile(r"(?i)\b(bearer|oauth)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + _MASK),
    # JWTs (service tokens, publish grants, id tokens): header.payload.signature
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), _MASK),
    # signed media links (/media/v1/<id>/<expires>/<signature>), also percent-encoded
    (re.compile(r"(/media/v1/[^/\s?#]+/[^/\s?#]+/)[A-Za-z0-9_-]{8,}"), r"\1" + _MASK),
    (
        re.compile(
            r"(?i)(%2Fmedia%2Fv1%2F(?:(?!%2F)[^/\s?#&])+%2F(?:(?!%2F)[^/\s?#&])+%2F)[A-Za-z0-9_-]{8,}"
        ),
        r"\1" + _MASK,
    ),
    # TikTok-style token prefixes
    (re.compile(r"\b(act|rft|clt)\.[A-Za-z0-9._-]{8,}"), r"\1." + _MASK),
)


def register_secret(value: str | None) -> None:
    """Remember a secret value so it is masked wherever it shows up."""
    if value and len(value) >= 6:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """Return ``text`` with known secrets and secret-shaped substrings masked."""
    if not text:
        return text
    for secret in tuple(_known):
        if secret in text:
            text = text.replace(secret, _MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_query(query: str) -> str:
    """A query string (``a=1&b=2``, no ``?``) with every value masked and its names kept
    (``a=***&b=***``), then :func:`redact`.

    On a span a query's values are never needed and often personal or a capability:
    an OAuth callback's ``code``, the Telegram Login Widget's ``id``, ``first_name``,
    ``username``, ``photo_url``, ``auth_date`` and ``hash``
    (https://core.telegram.org/widgets/login#receiving-authorization-data).
    """
    pairs = []
    for pair in query.split("&"):
        name, equals, value = pair.partition("=")
        pairs.append(f"{name}={_MASK}" if equals and value else pair)
    return redact("&".join(pairs))


def redact_url(url: str) -> str:
    """A URL safe to log or put on a span: its query values masked (:func:`redact_query`),
    the rest :func:`redact`-ed (a bot token in the path)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL: scrub it as text
        return redact(url)
    if parts.query:
        url = urlunsplit(parts._replace(query=redact_query(parts.query)))
    return redact(url)
