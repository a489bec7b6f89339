"""Which service answers which public path, and what the gateway lets through.

The gateway's rules, written once here and written out for the distributed
gateway (``deploy/gateway/nginx.conf``); deploy/tests checks they agree, and
the same request cases (``cachalot_testing.gateway``) run against both.

- :data:`ROUTES`: the public API prefixes and the service behind each. Only
  these reach a service; internal paths (``/internal/v1/...``, ``/metrics``,
  ``/docs``, ``/openapi.json``, ``/readyz`` of a service) never do.
- :func:`normalise_path`: the path is normalised (RFC 3986 §6.2.2: escapes
  of ordinary characters decoded, ``.``/``..`` segments removed, ``//``
  merged, as nginx does) before it is routed, and the normalised path is the
  one forwarded, so what a service sees is what the gateway routed. Encoded
  separators (``%2F``, ``%5C``), backslashes and control characters are
  refused: no public path needs them, and each is a way to make the gateway
  and a service read one path two ways.
- :data:`PUBLIC`: the paths anyone may call; every other API path is a
  client's and is refused without a session cookie before its body is read
  (the services verify the cookie; the gateway only turns away the plainly
  unauthenticated, so a large body never reaches them).
- :func:`body_limit_bytes`: the largest body each route takes.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import quote

from cachalot_common.sessions import COOKIE_NAME

ROUTES: Final[tuple[tuple[str, str], ...]] = (
    ("/api/v1/contact", "contact"),
    ("/api/v1/auth", "auth"),
    ("/api/v1/me", "auth"),
    ("/api/v1/accounts", "auth"),
    # the operator's: sign-in is under /api/v1/auth; the first match wins
    ("/api/v1/operator/me", "auth"),
    ("/api/v1/operator/clients", "auth"),
    ("/api/v1/operator/policy-versions", "auth"),
    # what became of each policy version's e-mails: the notifier's records
    ("/api/v1/operator/policy-deliveries", "notifier"),
    # an operator's upload into a client's library and its deliveries (bodies as
    # the client's upload and posts: see body_limit_bytes)
    ("/api/v1/operator/media", "queue"),
    ("/api/v1/operator/deliveries", "queue"),
    # the operator page's live feed (Server-Sent Events, as /api/v1/events below)
    ("/api/v1/operator/events", "queue"),
    ("/api/v1/operator", "queue"),
    ("/api/v1/media", "queue"),
    ("/api/v1/posts", "queue"),
    # the dashboard's live feed (Server-Sent Events): streamed, never buffered
    ("/api/v1/events", "queue"),
    # e-mail notices: the one-click unsubscribe link (RFC 8058) is the notifier's
    ("/api/v1/notices", "notifier"),
    # what the privacy page states from settings (media retention): the queue's
    ("/api/v1/privacy", "queue"),
)

# Signed media links (issue 10 item 2): public (the link is the capability:
# Instagram's crawler sends no cookie), served by the queue (GET/HEAD: others 405),
# and never logged with their signature (the last segment).
MEDIA_LINKS: Final[tuple[str, str]] = ("/media/v1", "queue")

# Regexes over the normalised path; nginx.conf has one location for each,
# the only API locations without the session-cookie check.
PUBLIC: Final[tuple[str, ...]] = (
    r"^/api/v1/contact(?:/|$)",  # the contact form
    r"^/api/v1/auth/[\w-]+/(?:login|callback)$",  # OAuth start and finish
    r"^/api/v1/notices/unsubscribe$",  # the link in an e-mail: signed, no cookie (RFC 8058)
    r"^/api/v1/privacy$",  # the privacy page's facts (web/privacy.html), read by anyone
)
_PUBLIC = tuple(re.compile(pattern) for pattern in PUBLIC)

SESSION_COOKIE: Final = COOKIE_NAME

# Bodies: a video upload streams up to a little over the queue's 4 GiB cap
# (CACHALOT_MAX_MEDIA_BYTES), so the queue answers an oversize video with its
# own 413 naming its limit; a post is JSON of at most 20 targets, each with
# its platform's text limits, and an article of up to 200,000 characters: the
# queue caps it at the largest valid post with every character escaped
# (cachalot_queue.schemas.largest_body_bytes, about 6.1 MiB; a proposal edit, about
# 10.4 MiB), and 16 MiB holds
# that with room; every other
# body is a small JSON form (contact's own cap is its form's worst case,
# every character escaped: 52 KiB; embedded/tests checks every public JSON
# route's worst case fits under its cap here).
MEDIA_PREFIX: Final = "/api/v1/media"
MEDIA_MAX_BODY_BYTES: Final = 5 * 1024**3
POSTS_PREFIX: Final = "/api/v1/posts"
# an operator's upload into a client's library is a video upload; a delivery holds
# a post's content and its proposals, as large as a post (cachalot_queue.deliveries)
OPERATOR_MEDIA_PREFIX: Final = "/api/v1/operator/media"
DELIVERIES_PREFIX: Final = "/api/v1/operator/deliveries"
POSTS_MAX_BODY_BYTES: Final = 16 * 1024**2
# a delivery (operators only) holds up to 10 proposals, each as large as a post edit:
# about 107 MiB at worst, every character escaped (embedded/tests checks it fits)
DELIVERIES_MAX_BODY_BYTES: Final = 128 * 1024**2
DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024

_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
# Left as they are when the path is written out again (RFC 3986 pchar and /).
_SAFE = "/:@!$&'()*+,;=~"


class BadPath(ValueError):
    """A request path the gateway refuses (400); the message says why."""


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def service_for(path: str) -> str | None:
    """The service that owns the normalised ``path``, or None when no route matches."""
    if path.startswith(MEDIA_LINKS[0] + "/"):
        return MEDIA_LINKS[1]
    for prefix, service in ROUTES:
        if _under(path, prefix.rstrip("/")):
            return service
    return None


def is_public(path: str) -> bool:
    """True when the normalised ``path`` may be called without a session (:data:`PUBLIC`,
    and the signed media links)."""
    return path.startswith(MEDIA_LINKS[0] + "/") or any(p.search(path) for p in _PUBLIC)


def body_limit_bytes(path: str) -> int:
    """The largest request body, in bytes, the gateway lets through for ``path``."""
    if _under(path, MEDIA_PREFIX) or _under(path, OPERATOR_MEDIA_PREFIX):
        return MEDIA_MAX_BODY_BYTES
    if _under(path, DELIVERIES_PREFIX):
        return DELIVERIES_MAX_BODY_BYTES
    if _under(path, POSTS_PREFIX):
        return POSTS_MAX_BODY_BYTES
    return DEFAULT_MAX_BODY_BYTES


def has_session_cookie(cookie_headers: list[bytes]) -> bool:
    """True when a ``Cookie`` header carries a non-empty :data:`SESSION_COOKIE`.

    Presence only: whether it is valid is the services' to decide.
    """
    wanted = SESSION_COOKIE.encode()
    for header in cookie_headers:
        for pair in header.split(b";"):
            name, _, value = pair.strip().partition(b"=")
            if name == wanted and value.strip():
                return True
    return False


def normalise_path(raw: bytes) -> tuple[str, bytes]:
    """The path to route and the path to forward, from the raw request path.

    ``raw``: the path as sent, without the query (``scope["raw_path"]``).
    Returns ``(path, forward)``: the normalised path as text (for routing)
    and the same path percent-encoded again (for the service), e.g.
    ``b"/api/v1//posts/%2e%2e/me"`` → ``("/api/v1/me", b"/api/v1/me")``.

    Raises :class:`BadPath` for a control character (raw or encoded), a
    backslash, an encoded ``/`` or ``\\``, a broken escape, a path not
    starting with ``/``, or ``..`` climbing above the root (nginx answers
    400 for the same).
    """
    if not raw.startswith(b"/"):
        raise BadPath("The request path must start with '/'.")
    if b"\\" in raw:
        raise BadPath("A backslash in the path is refused.")
    if re.search(rb"%(?![0-9A-Fa-f]{2})", raw):
        raise BadPath("A '%' in the path must start an escape such as %20.")

    def decode(match: re.Match[bytes]) -> bytes:
        byte = int(match.group(1), 16)
        if byte in (0x2F, 0x5C):
            raise BadPath("An encoded slash or backslash (%2F, %5C) in the path is refused.")
        return bytes([byte])

    decoded = _ESCAPE.sub(decode, raw)
    if any(byte < 0x20 or byte == 0x7F for byte in decoded):
        raise BadPath("A control character in the path is refused.")
    segments: list[bytes] = []
    parts = decoded.split(b"/")[1:]
    for index, segment in enumerate(parts):
        last = index == len(parts) - 1
        if segment == b"..":
            if not segments:
                raise BadPath("The path climbs above the root with '..'.")
            segments.pop()
            if last:
                segments.append(b"")
        elif segment == b".":
            if last:
                segments.append(b"")
        elif segment == b"" and not last:
            continue  # "//" is one "/", as nginx's merge_slashes
        else:
            segments.append(segment)
    normalised = b"/" + b"/".join(segments)
    forward = quote(normalised, safe=_SAFE).encode("ascii")
    return normalised.decode("utf-8", errors="replace"), forward
