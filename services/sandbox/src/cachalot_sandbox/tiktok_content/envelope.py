"""The TikTok v2 response envelope: ``{data, error: {code, message, log_id}}``.

TikTok answers success and failure in the same shape; success is
``error.code == "ok"``. Every answer of the fake goes through here.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute


def log_id() -> str:
    """A log id shaped like TikTok's (timestamp + random hex)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(10).upper()


def ok(data: dict[str, Any], *, status: int = 200) -> JSONResponse:
    return JSONResponse(
        {"data": data, "error": {"code": "ok", "message": "", "log_id": log_id()}},
        status_code=status,
    )


class TikTokError(Exception):
    """Raise inside a handler to answer with a v2 error envelope."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_response(error: TikTokError) -> JSONResponse:
    return JSONResponse(
        {"data": {}, "error": {"code": error.code, "message": error.message, "log_id": log_id()}},
        status_code=error.status,
        headers=error.headers,
    )


class TikTokRoute(APIRoute):
    """Routes whose :class:`TikTokError` becomes the v2 error envelope."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except TikTokError as error:
                return error_response(error)

        return handler
