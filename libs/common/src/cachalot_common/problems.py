"""RFC 9457 problem details for every HTTP error.

Bad input always answers with ``application/problem+json``: ``type``,
``title``, ``status``, ``detail`` and, for validation errors, ``errors`` with
one entry per bad field (``field`` names it the way the client sent it).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from cachalot_common.refusals import params_of
from cachalot_common.untrusted import LoneSurrogate

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

_DESCRIPTIONS = {
    400: "The request cannot be read (a header or the body is malformed).",
    401: "Not signed in, or the session is no longer valid.",
    403: "Signed in, but not allowed to do this.",
    404: "No such resource for this client.",
    409: "The resource is not in a state that allows this.",
    412: "`If-Match` names a version the resource no longer has; `ETag` is the current one.",
    413: "The body is larger than this endpoint accepts.",
    415: "The body's media type is not one this endpoint accepts.",
    422: "Invalid input; `errors` names each bad field.",
    500: "A fault on our side, logged for the operator.",
    429: "Too many requests; see Retry-After.",
    503: "A dependency is unavailable; see Retry-After.",
}
# The problem document's shape (RFC 9457 §3), as published in OpenAPI.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "in": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
}


class ProblemResponse(JSONResponse):
    """``application/problem+json``, rendered even when a text holds a lone surrogate.

    A problem may quote what the client sent (an unknown field's name); a
    lone surrogate there would make the error answer itself a 500, so such
    code points are written as ``?``.
    """

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return text.encode("utf-8", "replace")


def problem_responses(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` documenting each status as a problem document.

    For example ``responses=problem_responses(401, 404, 422)`` on a route, so
    the published document lists every error it answers, with its media type;
    ``descriptions`` words a status for this route (``{409: "A post needs it."}``).
    """
    words = {**_DESCRIPTIONS, **(descriptions or {})}
    return {
        status: {
            "description": words.get(status, _TITLES.get(status, "Error")),
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


class Problem(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.type = type_
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str = "about:blank",
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build the response; the single place the problem shape is written."""
    body: dict[str, Any] = {
        "type": type_,
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return ProblemResponse(body, status_code=status, headers=headers)


_JARGON = re.compile(r"^(?:Value error|Assertion failed),\s*")


def field_errors(raw: list[Any]) -> list[dict[str, Any]]:
    """Pydantic/FastAPI errors as ``{field, in, message, type}``, field without 'body.'; a
    refusal of :data:`cachalot_common.refusals.REFUSALS` adds the numbers its code names."""
    out: list[dict[str, Any]] = []
    for item in raw:
        loc = [str(p) for p in item.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header", "cookie"}:
            where, loc = loc[0], loc[1:]
        else:
            where = "body"
        field = ".".join(loc) if loc else where
        message = str(item.get("msg", "invalid value"))
        # a person reads the validator's reason, not its class ("Value error, …")
        message = _JARGON.sub("", message, count=1)
        if item.get("type") == "extra_forbidden":
            message = "unknown field"
        code = item.get("type")
        # a registry refusal's numbers (cachalot_common.refusals), so a page words it
        extra = params_of(code, item.get("ctx"))
        out.append({"field": field, "in": where, "message": message, "type": code, **extra})
    return out


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = field_errors(list(exc.errors()))
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(
            422, "The request body is not valid JSON.", errors=errors, instance=request.url.path
        )
    names = ", ".join(sorted({e["field"] for e in errors}))
    return problem_response(
        422, f"Invalid input: {names}.", errors=errors, instance=request.url.path
    )


async def _on_lone_surrogate(request: Request, exc: Exception) -> Response:
    """Answer as the app answers any validation error (its handler may be its own)."""
    assert isinstance(exc, LoneSurrogate)
    handler = request.app.exception_handlers.get(RequestValidationError, _on_validation)
    response: Response = await handler(request, RequestValidationError(exc.errors()))
    return response


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    return problem_response(
        exc.status_code, detail, headers=dict(exc.headers or {}), instance=request.url.path
    )


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem_response(
        exc.status,
        exc.detail,
        title=exc.title,
        type_=exc.type,
        errors=exc.errors,
        headers=exc.headers,
        instance=request.url.path,
        **exc.extra,
    )


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "Something went wrong on our side; it has been logged.")


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app can raise answers as a problem document."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(LoneSurrogate, _on_lone_surrogate)
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(Exception, _on_unexpected)
