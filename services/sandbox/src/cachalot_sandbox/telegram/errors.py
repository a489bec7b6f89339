"""The Bot API's error answer: ``{"ok": false, "error_code", "description"[, "parameters"]}``."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


class BotApiError(Exception):
    """An ``{ok: false}`` answer."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters
        self.headers: dict[str, str] = {}

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return JSONResponse(body, status_code=self.code, headers=self.headers)


def bad_request(detail: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {detail}")


def chat_not_found() -> BotApiError:
    return bad_request("chat not found")
