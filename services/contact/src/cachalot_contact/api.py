"""``POST /api/v1/contact``: transport in, a submission id out, errors as problems."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from cachalot_common.net import client_ip
from cachalot_common.problems import Problem, field_errors
from cachalot_contact.body import read_json_body
from cachalot_contact.intake import Intake
from cachalot_contact.log import LogUnavailable
from cachalot_contact.ratelimit import RateLimiter
from cachalot_contact.schemas import MAX_BODY_BYTES, Accepted, ContactForm
from cachalot_contact.settings import ContactSettings

_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
RESPONSES: dict[int | str, dict[str, Any]] = {
    413: {
        "description": (
            f"Body larger than {MAX_BODY_BYTES} bytes (by default): more than any valid "
            "form needs, every character escaped. The character limits are checked "
            "on the decoded text (422)."
        ),
        **_PROBLEM,
    },
    415: {"description": "Body is not JSON.", **_PROBLEM},
    422: {"description": "Invalid fields, each named in `errors`.", **_PROBLEM},
    429: {"description": "Too many submissions from this IP; see Retry-After.", **_PROBLEM},
    503: {"description": "The submission could not be stored.", **_PROBLEM},
}


def parse_form(body: bytes, *, region: str | None) -> ContactForm:
    """Validate the JSON body; a 422 problem names every bad field."""
    try:
        return ContactForm.model_validate_json(body, context={"region": region})
    except ValidationError as error:
        errors = field_errors(list(error.errors(include_url=False, include_input=False)))
        if any(e["type"] == "json_invalid" for e in errors):
            raise Problem(422, "The request body is not valid JSON.", errors=errors) from None
        names = ", ".join(sorted({e["field"] for e in errors}))
        raise Problem(422, f"Invalid input: {names}.", errors=errors) from None


def _peer(request: Request) -> str | None:
    """The direct peer: the client's IP when no proxy is trusted (the common case)."""
    client = request.scope.get("client")
    return str(client[0]) if client else None


class DirectRoute(APIRoute):
    """A documented route whose endpoint takes the ``Request`` and answers a ``Response``.

    FastAPI builds the OpenAPI operation from the route's arguments as usual,
    but at request time the route's ASGI app calls the endpoint directly,
    without FastAPI's generic handler (dependency solving, query parsing,
    response-model serialisation) or its per-request exit stacks for
    dependencies with ``yield``: the endpoint has no dependencies, reads and
    validates its body itself and answers prebuilt bytes, so that machinery
    would only cost time (about a tenth of the request's CPU in
    ``bench/contact_intake.py``). Errors propagate to the app's exception
    middleware, which answers them with the same problem handlers.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        self.app = _call_endpoint(endpoint)


def _call_endpoint(endpoint: Callable[[Request], Coroutine[Any, Any, Response]]) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


def install_routes(
    app: FastAPI, settings: ContactSettings, intake: Intake, limiter: RateLimiter
) -> None:
    """Add the contact route to ``app``.

    Registered on the app itself rather than through an included router, as
    a :class:`DirectRoute`, and answering with prebuilt bytes: each takes
    measurable time off the hot path (``bench/contact_intake.py``) while the
    OpenAPI document stays the same.
    """
    trusted = tuple(settings.trusted_proxies)

    async def submit_contact(request: Request) -> Response:
        """Store the submission durably (202 once it is on disk); the operator is told."""
        ip = client_ip(request, trusted) if trusted else _peer(request)
        wait = await limiter.hit(ip or "unknown")
        if wait is not None:
            raise Problem(
                429,
                "Too many messages from your address; please try again later.",
                headers={"Retry-After": str(int(wait))},
            )
        body = await read_json_body(request, settings.contact_max_body_bytes)
        form = parse_form(body, region=settings.contact_default_region)
        try:
            submission = await intake.submit(
                form, ip=ip, user_agent=request.headers.get("user-agent")
            )
        except LogUnavailable:
            raise Problem(
                503,
                "We could not store your message right now; please try again later.",
                headers={"Retry-After": "30"},
            ) from None
        return Response(
            b'{"id":"%s","status":"accepted"}' % str(submission).encode(),
            status_code=202,
            media_type="application/json",
        )

    app.router.add_api_route(
        "/api/v1/contact",
        submit_contact,
        methods=["POST"],
        route_class_override=DirectRoute,
        tags=["contact"],
        status_code=202,
        response_model=Accepted,
        responses=RESPONSES,
        summary="Send the contact form",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ContactForm.model_json_schema()}},
            }
        },
    )
