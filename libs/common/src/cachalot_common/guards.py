"""Checks every service makes before a route reads a byte of the request body.

FastAPI reads and parses a JSON body before any dependency runs, so a route's
own session check comes too late: an 80 MB body sent without a session cost
the queue about 450 MB of memory before its 401 (issue 8, item 5). And a page
on a sibling origin (another port of the host, in production any sibling
subdomain: the same *site*, so ``SameSite=Lax`` cookies go with it) could
cancel a client's post with a ``text/plain`` form (item 6). These guards sit
in the ASGI layer, in front of the routes, and refuse such requests from the
headers alone:

1. **Cross-origin writes** (403): an unsafe method (POST, PUT, PATCH, DELETE)
   is refused when the browser says it comes from another origin. The rule
   is Go 1.25's ``net/http.CrossOriginProtection``: ``Sec-Fetch-Site:
   same-origin`` or ``none`` passes; any other value passes only with an
   allowed ``Origin``; without ``Sec-Fetch-Site`` (older browsers), an
   ``Origin`` must match the ``Host`` or be allowed; a request with neither
   header is not from a browser page (curl, service to service) and passes.
2. **Who is calling** (401): paths under a :class:`SignedIn` prefix need the
   proof it names (the session cookie's signature and expiry, or a service
   JWT) before the body is read. The route still makes its own, fuller check
   (revocation, ownership); this one only keeps strangers from costing
   anything.
3. **What the body is** (415): a route that parses JSON accepts only
   ``application/json`` (or ``+json``); a route that streams a declared body
   (its ``openapi_extra`` ``requestBody``) accepts only the types it lists,
   ``video/*`` style ranges included; a route that takes no body refuses the
   three types an HTML form can send without a CORS preflight.
4. **How big it is** (413, naming ``max_bytes``): a declared
   ``Content-Length`` over the route's cap is refused at once, and the bytes
   of a chunked body are counted as the route reads them. The cap is
   the route's own (``openapi_extra={"x-max-body-bytes": n}``), else the
   largest body its JSON schema allows with every character escaped
   (:mod:`cachalot_common.json_size`: a cap that never refuses a valid
   request, issue 11), else :attr:`Guards.max_body_bytes` (64 KiB) for a
   JSON route whose schema sets no bound. Streaming routes (a declared
   ``requestBody`` of other types) bound their own body and keep streaming.
5. **A body that stops** (408): a write whose body sends no byte for
   :attr:`Guards.body_idle_s` (``CACHALOT_REQUEST_BODY_IDLE_S``, default 60 s:
   nginx's ``client_body_timeout``, the time between two successive reads) is
   answered 408 and its connection closed. Without it, a network that died
   silently mid-body (no FIN ever reaches the server) kept the request, and
   what the route held while it read, for as long as the kernel kept the
   socket: an upload's turn and file lock held for minutes, so the page's
   resume after a reload got one 504 after another (fresh15).

The rules for a route come from its operation in the service's OpenAPI
document (its JSON body, or the request body it declares), so a new route is
guarded without being listed, and what the document says is what is
enforced; the same rules add the 401/403/408/413/415 responses to it
(:func:`document_guards`).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cachalot_common.json_size import round_up_kib, worst_case_json_bytes
from cachalot_common.problems import PROBLEM_JSON, problem_response
from cachalot_common.service_auth import ServiceAuthError, verify_service_token
from cachalot_common.sessions import COOKIE_NAME, SessionError, read_session
from cachalot_common.settings import REQUEST_BODY_IDLE_S

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What an HTML form (or a fetch without a CORS preflight) can send: never
#: accepted by a state-changing route (WHATWG Fetch, CORS-safelisted types).
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
JSON_TYPE = "application/json"
DEFAULT_MAX_BODY_BYTES = 64 * 1024
DEFAULT_BODY_IDLE_S = REQUEST_BODY_IDLE_S
NOT_SIGNED_IN = "https://cachalot.dev/problems/not-signed-in"
CROSS_SITE = "https://cachalot.dev/problems/cross-origin-request"

#: Inspects the request's headers: ``None`` when the caller is proven, else
#: the reason (the 401's detail; never a secret).
Check = Callable[[Headers], str | None]


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Paths (``prefixes``, whole segments) whose every request must pass ``check`` first."""

    prefixes: tuple[str, ...]
    check: Check
    #: How the OpenAPI document names the proof ("session cookie", "service JWT").
    proof: str = "session cookie"

    def covers(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.prefixes)


def session_check(secret: str) -> Check:
    """The client session cookie, signature and expiry (``cachalot_common.sessions``)."""

    def check(headers: Headers) -> str | None:
        token = cookie_parser(headers.get("cookie", "")).get(COOKIE_NAME)
        try:
            read_session(token, secret=secret)
        except SessionError:
            return "Sign in first: this needs a valid session."
        return None

    return check


def service_check(secrets: Mapping[str, str]) -> Check:
    """A service JWT (``Authorization: Bearer``) signed by a known caller.

    Only the signature, audience and lifetime are checked here; the route's
    own dependency is the one that identifies the caller for what it does.
    """

    def check(headers: Headers) -> str | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "Service credentials required."
        try:
            verify_service_token(token.strip(), secrets=secrets)
        except ServiceAuthError:
            return "Service credentials refused."
        return None

    return check


def origin_of(url: str) -> str:
    """``https://host:8443/path`` → ``https://host:8443`` (the browser's ``Origin`` form)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


@dataclass(frozen=True, slots=True)
class Guards:
    """One service's guard settings, given to ``create_service_app``."""

    signed_in: tuple[SignedIn, ...] = ()
    #: Origins (``scheme://host[:port]``) whose pages may write cross-origin:
    #: the public URL's and ``CACHALOT_ALLOWED_ORIGINS``.
    allowed_origins: frozenset[str] = frozenset()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: Seconds a write's body may send nothing before it is answered 408 (guard 5).
    body_idle_s: float = DEFAULT_BODY_IDLE_S

    @classmethod
    def for_service(
        cls,
        *,
        public_url: str | None,
        allowed_origins: Iterable[str] = (),
        signed_in: Iterable[SignedIn] = (),
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_idle_s: float = DEFAULT_BODY_IDLE_S,
    ) -> Guards:
        origins = {origin_of(o) for o in allowed_origins if o.strip()}
        if public_url:
            origins.add(origin_of(public_url))
        return cls(
            signed_in=tuple(signed_in),
            allowed_origins=frozenset(origins),
            max_body_bytes=max_body_bytes,
            body_idle_s=body_idle_s,
        )


@dataclass(frozen=True, slots=True)
class BodyRule:
    """What an unsafe request to one route may carry.

    ``content_types`` ``None``: the route takes no body (form types refused,
    a missing type or JSON accepted). ``max_bytes`` ``None``: the route
    streams its body and bounds it itself.
    """

    content_types: tuple[str, ...] | None
    max_bytes: int | None


MAX_BODY_EXTENSION = "x-max-body-bytes"


def body_rule(
    operation: Mapping[str, Any],
    default_max_bytes: int,
    document: Mapping[str, Any] | None = None,
) -> BodyRule:
    """The rule an OpenAPI operation's own declaration implies.

    No ``requestBody``: the route takes no body (FastAPI reads none; form
    types are refused). A JSON-only body (FastAPI parses it, or the route
    reads it whole): capped at the operation's ``x-max-body-bytes``, else at
    the largest body its schema allows with every character escaped
    (:func:`cachalot_common.json_size.worst_case_json_bytes`, its ``$ref``s
    resolved in ``document``; rounded up to a KiB), else, for a schema with
    no bound, at ``default_max_bytes``. The limits a person meets are the
    schema's character limits, checked on the decoded text (422 naming the
    field): the byte cap never refuses a body a valid request can be (issue
    11). Any other declared types: the route streams its body and bounds it
    itself (unless ``x-max-body-bytes`` says otherwise).
    """
    own_max = operation.get(MAX_BODY_EXTENSION)
    content = operation.get("requestBody", {}).get("content", {})
    declared = tuple(content)
    if not declared:
        return BodyRule(None, own_max)
    if declared == (JSON_TYPE,):
        if own_max is not None:
            return BodyRule(declared, own_max)
        worst = None
        if document is not None:
            worst = worst_case_json_bytes(content[JSON_TYPE].get("schema", {}), document)
        return BodyRule(declared, round_up_kib(worst) if worst is not None else default_max_bytes)
    return BodyRule(declared, own_max)


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One documented unsafe operation: method, path template (and its regex), body rule."""

    method: str
    path: str
    pattern: re.Pattern[str]
    body: BodyRule


def route_rules(schema: Mapping[str, Any], default_max_bytes: int) -> list[RouteRule]:
    """Every documented operation's rule, in the document's (the router's) order.

    The OpenAPI document is where FastAPI itself lists the routes with their
    bodies (included routers flattened), so the guards read it rather than
    the router's internals. Routes left out of it (``/metrics``, probes)
    take no body and get no rule.
    """
    rules: list[RouteRule] = []
    for path, item in schema.get("paths", {}).items():
        pattern, _, _ = compile_path(path)
        for method, operation in item.items():
            if method.upper() in UNSAFE_METHODS:
                rules.append(
                    RouteRule(
                        method.upper(),
                        path,
                        pattern,
                        body_rule(operation, default_max_bytes, schema),
                    )
                )
    # Starlette tries routes in order; a literal path listed after a template
    # that also matches it is rare, and a literal match is the safer guess.
    rules.sort(key=lambda r: "{" in r.path)
    return rules


def media_type(content_type: str | None) -> str:
    """``Application/JSON; charset=utf-8`` → ``application/json``; ``""`` when missing."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def accepts(allowed: Iterable[str], media: str) -> bool:
    """Whether ``media`` is one of ``allowed`` (``type/*`` ranges; ``+json`` for JSON)."""
    for pattern in allowed:
        pattern = pattern.lower()
        if media == pattern:
            return True
        if (
            pattern.endswith("/*")
            and media.startswith(pattern[:-1])
            and len(media) > len(pattern) - 1
        ):
            return True
        if pattern == JSON_TYPE and media.startswith("application/") and media.endswith("+json"):
            return True
    return False


def cross_origin_refusal(headers: Headers, allowed_origins: frozenset[str]) -> str | None:
    """Why an unsafe request is refused as cross-origin, or ``None``.

    Go 1.25's ``CrossOriginProtection.Check``, with ``allowed_origins`` as its
    trusted origins (compared exactly, lower case, no trailing slash).
    """
    site = headers.get("sec-fetch-site")
    if site in ("same-origin", "none"):
        return None
    origin = headers.get("origin")
    if site is None:
        if origin is None:
            return None  # not a browser page, or a same-origin request of an old browser
        host = headers.get("host")
        if host and urlsplit(origin).netloc.lower() == host.lower():
            return None
    if origin is not None and origin.lower() in allowed_origins:
        return None
    return "Requests from another site's page cannot change anything here."


class BodyTooLarge(HTTPException):
    """The body grew past its cap while the route read it (answered as a 413 problem)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {max_bytes} bytes.")
        self.max_bytes = max_bytes


def too_large(max_bytes: int) -> Any:
    """The 413 problem, naming the cap in ``max_bytes``."""
    return problem_response(
        413, f"The request body is larger than {max_bytes} bytes.", max_bytes=max_bytes
    )


@dataclass
class GuardMiddleware:
    """The guards as pure ASGI middleware (it wraps ``receive``; responses are untouched)."""

    app: ASGIApp
    guards: Guards
    _rules: list[RouteRule] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method: str = scope["method"]
        unsafe = method in UNSAFE_METHODS
        refusal: Any = None
        if unsafe:
            reason = cross_origin_refusal(headers, self.guards.allowed_origins)
            if reason is not None:
                refusal = problem_response(403, reason, type_=CROSS_SITE)
        if refusal is None:
            path = _route_path(scope)
            for gate in self.guards.signed_in:
                if gate.covers(path) and (reason := gate.check(headers)) is not None:
                    refusal = problem_response(
                        401, reason, title="Not signed in", type_=NOT_SIGNED_IN
                    )
                    break
        rule = self._rule(scope, _route_path(scope)) if refusal is None and unsafe else None
        if rule is not None:
            refusal = _body_refusal(rule, headers)
        if refusal is not None:
            # Answered without reading the body. The connection stays open:
            # uvicorn discards (never buffers) the body bytes that arrive after
            # a complete response, whereas closing with unread bytes makes the
            # kernel reset the connection, and the client loses the answer.
            await refusal(scope, receive, send)
            return
        if unsafe:
            receive = _idle_bounded(receive, self.guards.body_idle_s)
        if rule is None or rule.max_bytes is None:
            await self.app(scope, receive, send)
            return
        await self.app(scope, _counted(receive, rule.max_bytes), send)

    def _rule(self, scope: Scope, path: str) -> BodyRule | None:
        if self._rules is None:
            app = scope.get("app")
            schema = app.openapi() if isinstance(app, FastAPI) else {}
            self._rules = route_rules(schema, self.guards.max_body_bytes)
        method = scope["method"]
        for rule in self._rules:
            if rule.method == method and rule.pattern.match(path):
                return rule.body
        return None


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _body_refusal(rule: BodyRule, headers: Headers) -> Any:
    media = media_type(headers.get("content-type"))
    if rule.content_types is None:
        if media in FORM_TYPES:
            return problem_response(
                415,
                f"This action takes no body; {media} is refused (send no body, or JSON).",
                accepted=[JSON_TYPE],
            )
    elif not accepts(rule.content_types, media):
        wanted = ", ".join(rule.content_types)
        return problem_response(
            415,
            f"Send the body with Content-Type: {wanted}"
            + (f" (not {media})." if media else " (none was given)."),
            accepted=list(rule.content_types),
        )
    if rule.max_bytes is not None:
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return problem_response(400, "Content-Length is not a number.")
            if int(declared) > rule.max_bytes:
                return too_large(rule.max_bytes)
    return None


def _counted(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` that raises :class:`BodyTooLarge` once more than ``max_bytes`` came in."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > max_bytes:
                raise BodyTooLarge(max_bytes)
        return message

    return counted


class BodyStopped(HTTPException):
    """No byte of a request's body came for ``idle_s`` seconds (guard 5)."""

    def __init__(self, idle_s: float) -> None:
        super().__init__(status_code=408)
        self.idle_s = idle_s


def _idle_bounded(receive: Receive, idle_s: float) -> Receive:
    """``receive`` that raises :class:`BodyStopped` when the body's next part takes longer
    than ``idle_s``; once the body is complete, waits as long as ``receive`` does (a
    response streamed for minutes listens for the client's disconnect)."""
    complete = False

    async def bounded() -> Message:
        nonlocal complete
        if complete:
            return await receive()
        try:
            async with asyncio.timeout(idle_s):
                message = await receive()
        except TimeoutError:
            raise BodyStopped(idle_s) from None
        complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return bounded


async def _on_too_large(_request: Any, exc: Exception) -> Any:
    assert isinstance(exc, BodyTooLarge)
    return too_large(exc.max_bytes)


async def _on_body_stopped(_request: Any, exc: Exception) -> Any:
    assert isinstance(exc, BodyStopped)
    # closed, not kept alive: the rest of that body may still come, or never
    return problem_response(
        408,
        f"No byte of the request body came for {exc.idle_s:g} s; send the request again.",
        title="Request body stopped",
        headers={"Connection": "close"},
        idle_s=exc.idle_s,
    )


def install_guards(app: FastAPI, guards: Guards) -> None:
    """Put the guards in front of ``app``'s routes and into its OpenAPI document."""
    app.add_exception_handler(BodyTooLarge, _on_too_large)
    app.add_exception_handler(BodyStopped, _on_body_stopped)
    app.add_middleware(GuardMiddleware, guards=guards)
    document_guards(app, guards)


_PROBLEM: dict[str, Any] = {"content": {PROBLEM_JSON: {"schema": {"type": "object"}}}}


def document_guards(app: FastAPI, guards: Guards) -> None:
    """Add the guards' 401/403/413/415 answers to each operation they apply to.

    A response the route already documents (with its own words) is kept.
    FastAPI caches the document; adding to it again changes nothing.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for path, item in schema.get("paths", {}).items():
            gate = next((g for g in guards.signed_in if g.covers(path)), None)
            for method, operation in item.items():
                rule = body_rule(operation, guards.max_body_bytes, schema)
                responses = operation.setdefault("responses", {})
                for status, response in _guard_responses(method.upper(), rule, gate).items():
                    responses.setdefault(status, response)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _guard_responses(
    method: str, rule: BodyRule, gate: SignedIn | None
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    if gate is not None:
        found["401"] = {"description": f"No valid {gate.proof}.", **_PROBLEM}
    if method not in UNSAFE_METHODS:
        return found
    found["403"] = {"description": "Sent by a page of another origin.", **_PROBLEM}
    found["408"] = {"description": "No byte of the body came for `idle_s` seconds.", **_PROBLEM}
    if rule.max_bytes is not None:
        found["413"] = {
            "description": f"Body larger than {rule.max_bytes} bytes (`max_bytes`).",
            **_PROBLEM,
        }
    if rule.content_types is None:
        found["415"] = {
            "description": "A form's content type (this action takes no body).",
            **_PROBLEM,
        }
    else:
        found["415"] = {
            "description": f"Content-Type other than {', '.join(rule.content_types)}.",
            **_PROBLEM,
        }
    return found
