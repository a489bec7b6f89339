"""Reading the request body: JSON only, at most the form's worst case in bytes, however it is sent.

The size is checked twice: a ``Content-Length`` over the limit is refused
before a byte is read, and the bytes actually received are counted as they
stream in, so a chunked body (no ``Content-Length``) or a lying header cannot
push more than the limit into memory.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from cachalot_common.problems import Problem

logger = logging.getLogger(__name__)


def _too_large(limit: int) -> Problem:
    return Problem(413, f"The request body is larger than {limit} bytes.", max_bytes=limit)


def is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


async def read_json_body(request: Request, limit: int) -> bytes:
    """The raw body, once it is known to be JSON-typed and within ``limit`` bytes.

    Raises :class:`Problem` 415 (not JSON), 413 (over ``limit``), 400 (a
    ``Content-Length`` that is not a number, or a client that hung up before
    the end of its body: answered like the queue's interrupted upload, logged
    at info, never a 500 with a traceback; nobody may be left to read it).
    """
    if not is_json(request.headers.get("content-type", "")):
        raise Problem(415, "Send the form as JSON with Content-Type: application/json.")
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError:
            raise Problem(400, "Content-Length is not a number.") from None
    # The ASGI messages themselves rather than ``request.stream()``: one await
    # per chunk instead of an async generator around it (the common body is
    # one chunk), and nothing else reads this body.
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            logger.info("contact form: the client hung up after %d bytes of its body", size)
            raise Problem(400, "The request body was interrupted before its end; send it again.")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
