"""Wire helpers shared by the fake OAuth endpoints: forms, redirects, faults."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from cachalot_sandbox.oauthkit.errors import OAuthError, invalid_request
from cachalot_sandbox.oauthkit.state import Fault, PlatformState

ErrorRenderer = Callable[[OAuthError], Response]

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


def log_id() -> str:
    """An opaque request id like the ones platforms put in error bodies."""
    return secrets.token_hex(16).upper()


async def read_form(request: Request, *, allow_multipart: bool = False) -> dict[str, str]:
    """The form body of a token-endpoint call; any other content type is refused."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    allowed = {FORM, MULTIPART} if allow_multipart else {FORM}
    if content_type not in allowed:
        raise invalid_request(f"Content-Type must be {' or '.join(sorted(allowed))}.")
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def require(params: Mapping[str, str], *names: str) -> None:
    """``invalid_request`` naming the first missing parameter."""
    for name in names:
        if not params.get(name):
            raise invalid_request(f"Missing required parameter: {name}.")


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def redirect_to(
    redirect_uri: str, params: Mapping[str, str | None], *, fragment: str = ""
) -> RedirectResponse:
    """302 to ``redirect_uri`` with ``params`` appended to its own query."""
    parts = urlsplit(redirect_uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment or parts.fragment))
    return RedirectResponse(url, status_code=302)


def flat_error(exc: OAuthError, **extra: str) -> JSONResponse:
    """RFC 6749 §5.2 error body (TikTok, Google and VK answer this shape)."""
    body = {"error": exc.error, "error_description": exc.description, **extra}
    return JSONResponse(body, status_code=exc.status, headers={"Cache-Control": "no-store"})


def fault_error(fault: Fault) -> OAuthError:
    """The error a queued fault stands for."""
    if fault.error:
        status = fault.status or (401 if fault.error == "invalid_client" else 400)
        return OAuthError(fault.error, fault.error_description or "Sandbox fault.", status=status)
    status = fault.status or 503
    name = "temporarily_unavailable" if status == 503 else "server_error"
    return OAuthError(name, fault.error_description or "Sandbox fault.", status=status)


async def token_call(
    state: PlatformState,
    grant_type: str,
    render: ErrorRenderer,
    handler: Callable[[], Awaitable[Response]],
) -> Response:
    """Count the call, answer a queued fault if one applies, else run ``handler``."""
    state.count(f"token:{grant_type or '-'}")
    fault = state.take_fault(grant_type)
    if fault is not None:
        if fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault.body is not None:
            return JSONResponse(fault.body, status_code=fault.status or 200)
        return render(fault_error(fault))
    try:
        return await handler()
    except OAuthError as exc:
        return render(exc)


def client_credentials(request: Request, form: Mapping[str, str]) -> tuple[str, str]:
    """``(client_id, client_secret)`` from HTTP Basic (RFC 6749 §2.3.1) or the form."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "", ""
        user, _, password = decoded.partition(":")
        return unquote_plus(user), unquote_plus(password)
    return form.get("client_id", ""), form.get("client_secret", "")
