"""Untrusted text from outside: decoded strictly and compared safely.

Two kinds of input used to make a 500 (issue 8, item 7):

* **Lone surrogates.** JSON may escape a UTF-16 surrogate that has no pair
  (``"\\udfff"``); Python's ``json`` decodes it into a ``str`` that no UTF-8
  encoder accepts, so the value passed validation and failed later, when the
  database or Kafka encoded it. RFC 8259 §8.2 calls such strings
  unpredictable; RFC 3629 forbids surrogates in UTF-8. Pydantic's own JSON
  parser already refuses them (contact, every Kafka consumer); bodies that
  FastAPI decodes go through :class:`StrictJsonRoute`, which refuses them
  before validation with a 422 naming the field.
* **Non-ASCII secrets.** ``hmac.compare_digest`` raises ``TypeError`` on a
  ``str`` with non-ASCII characters, so a state or hash typed by anyone
  became a 500. :func:`same_secret` compares UTF-8 bytes instead.
* **Non-ASCII digits.** ``str.isdigit`` accepts ``"²"``, which ``int`` and
  ``float`` refuse: :func:`decimal_seconds` reads header numbers from ASCII.

Every platform client reads ``Retry-After`` with :func:`retry_after_seconds`
(RFC 9110 §10.2.3: delay-seconds or an HTTP-date).
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable, Coroutine
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from cachalot_common.events import bounded_wait_s

_SURROGATE = re.compile("[\ud800-\udfff]")
# A surrogate reaches a decoded string only through a ``\uD800``–``\uDFFF``
# escape (raw bytes of one are invalid UTF-8 and fail decoding), so bodies
# without such an escape are not walked at all.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}")


def same_secret(given: str | bytes | None, expected: str | bytes) -> bool:
    """Constant-time equality of two secrets, whatever characters ``given`` holds.

    Both sides are compared as UTF-8 bytes (lone surrogates kept, so they
    never match a real secret rather than raise). ``None`` never matches.
    """
    if given is None:
        return False

    def raw(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")

    return hmac.compare_digest(raw(given), raw(expected))


_ASCTIME = re.compile(r"[A-Za-z]{3} [A-Za-z]{3} [ 0-9][0-9] [0-9:]{8} [0-9]{4}", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def decimal_seconds(raw: str | None) -> float | None:
    """``Retry-After``-style seconds: ASCII digits with an optional fraction, else ``None``.

    ``str.isdigit`` accepts ``"²"`` and ``"١"``, which ``float``/``int`` then
    refuse or read differently; a header from elsewhere is matched with an
    ASCII-only pattern instead (RFC 9110 §10.2.3 allows only ``1*DIGIT``).
    """
    if raw is None or _DECIMAL.fullmatch(raw.strip()) is None:
        return None
    return float(raw)


def retry_after_seconds(raw: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait that a ``Retry-After`` header asks for, or ``None`` when it says nothing.

    RFC 9110 §10.2.3: the value is ``delay-seconds`` (read by :func:`decimal_seconds`,
    which also takes a decimal fraction) or an ``HTTP-date`` (IMF-fixdate, or the
    obsolete RFC 850 and asctime forms, §5.6.7), turned into the seconds from ``now``
    (epoch seconds; the clock when ``None``) until that date; a date already past is
    ``0.0``. Anything else (empty, negative, words, a date in zone ``-0000``) is
    ``None``. At most :data:`cachalot_common.events.MAX_RETRY_AFTER_S` (a week). Never raises.
    """
    seconds = decimal_seconds(raw)
    if seconds is not None:
        return bounded_wait_s(seconds)
    if raw is None or not raw.strip():
        return None
    try:
        when = parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # asctime is GMT by definition; "-0000" (zone unknown) is no date
        if _ASCTIME.fullmatch(raw.strip()) is None:
            return None
        when = when.replace(tzinfo=UTC)
    return bounded_wait_s(when.timestamp() - (time.time() if now is None else now))


def has_lone_surrogate(text: str) -> bool:
    """True if ``text`` holds a UTF-16 surrogate code point (never valid in UTF-8)."""
    return _SURROGATE.search(text) is not None


Path = tuple[str | int, ...]


def lone_surrogate_path(value: Any, path: Path = ()) -> Path | None:
    """Where the first string holding a lone surrogate sits in decoded JSON, or ``None``.

    The path is the keys and list positions from the top (``("targets", 0,
    "youtube", "title")``); a bad key is named by the path to it with the key
    itself left out, since it cannot be written back.
    """
    if isinstance(value, str):
        return path if has_lone_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if has_lone_surrogate(key):
                return path
            found = lone_surrogate_path(item, (*path, key))
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = lone_surrogate_path(item, (*path, index))
            if found is not None:
                return found
    return None


class LoneSurrogate(StarletteHTTPException):
    """A JSON body holds a string with an unpaired surrogate at ``loc``.

    A Starlette ``HTTPException`` only so that FastAPI's body reader lets it
    through unchanged; :func:`cachalot_common.problems.install_problem_handlers`
    answers it as the app's own validation error (422 naming the field).
    """

    def __init__(self, loc: Path) -> None:
        super().__init__(422, "A text holds an unpaired UTF-16 surrogate.")
        self.loc = loc

    def errors(self) -> list[dict[str, Any]]:
        """The error in pydantic's shape, located in the body."""
        return [
            {
                "type": "string_unicode",
                "loc": ("body", *self.loc),
                "msg": "Text must be valid Unicode: an unpaired surrogate (\\ud800-\\udfff) "
                "cannot be stored",
                "input": None,
            }
        ]


class StrictJsonRequest(Request):
    """A request whose JSON body is refused if any string holds a lone surrogate."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                decoded = json.loads(body)
            except UnicodeDecodeError as error:  # JSON is UTF-8 (RFC 8259 §8.1)
                raise json.JSONDecodeError("the body is not UTF-8", "", error.start) from None
            if _SURROGATE_ESCAPE.search(body):
                where = lone_surrogate_path(decoded)
                if where is not None:
                    raise LoneSurrogate(where)
            self._json = decoded
        return self._json


class StrictJsonRoute(APIRoute):
    """An API route that decodes JSON bodies with :class:`StrictJsonRequest`.

    Pass ``route_class=StrictJsonRoute`` to every ``APIRouter`` whose routes
    take a JSON body (FastAPI's documented way to change the request class).
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
