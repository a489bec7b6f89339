"""The embedded API gateway: one origin for the dashboard and every service.

In distributed mode a real gateway (nginx, an ingress) does this; embedded
mode needs no extra software, so a small streaming reverse proxy routes by
path prefix (:mod:`routes`). Bodies are streamed both ways (a video upload
never sits in the gateway's memory) with the ``Content-Length`` the client
declared (chunked only when it declared none), so a service can refuse a
declared size from the headers, as behind nginx. A service's answer is
relayed as soon as it comes, even while the client is still sending
(:mod:`upstream`): an early 401 or 413 stops the upload, and the connection
is then closed rather than the rest of the body read. Redirects and every
``Set-Cookie`` are passed through untouched, and ``X-Forwarded-For`` is
appended so services that trust the gateway see the real client address.

What it refuses, each as a problem document (RFC 9457) before anything
reaches a service, in this order (nginx.conf applies the same rules):
400 for a path :func:`routes.normalise_path` refuses; 404 for a path
outside the public API; 401 for a client route without a session cookie
(before a byte of its body is read); 413 for a declared body over the
route's cap, or when a streamed body grows past it. A service that is down
or drops the request answers 503, one that does not answer in time 504,
both with ``Retry-After``.

The gateway itself answers ``GET /api/v1/openapi.json`` with the public API's
OpenAPI document (:mod:`cachalot_embedded.openapi`), the file nginx serves, and
``GET /api/v1/docs`` with the page that shows it (``web/api-docs.html``: Swagger
UI, vendored once in :mod:`cachalot_common.docs` and served at its path, reading that
document), as nginx does.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from cachalot_common.docs import SWAGGER_UI_PATH, swagger_ui_files
from cachalot_common.problems import PROBLEM_JSON
from cachalot_common.telemetry import scrub_server_span
from cachalot_embedded.openapi import DOCS_PAGE, DOCS_PATH, DOCUMENT_PATH
from cachalot_embedded.routes import (
    MEDIA_LINKS,
    BadPath,
    body_limit_bytes,
    has_session_cookie,
    is_public,
    normalise_path,
    service_for,
)
from cachalot_embedded.upstream import (
    Upstream,
    UpstreamTimeout,
    UpstreamUnreachable,
    exchange,
)

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
EDGE_OWN: Final = frozenset({b"date", b"server"})
"""Answer headers the gateway's own server writes: the service's are dropped, as nginx's
``proxy_pass`` hides them by default (``proxy_hide_header``: Date, Server), so an answer
carries one ``date``, not two."""
RETRY_AFTER_S: Final = 5
CONNECT_TIMEOUT_S: Final = 5.0
TIMEOUT_S: Final = 60.0
_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
NOT_SIGNED_IN: Final = "https://cachalot.dev/problems/not-signed-in"
_TITLES: Final = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def problem(
    status: int, detail: str, *, type_: str = "about:blank", retry: bool = False
) -> JSONResponse:
    """The gateway's own error: ``{type, title, status, detail}`` as problem JSON.

    ``retry``: add ``Retry-After`` (:data:`RETRY_AFTER_S` seconds). nginx.conf
    writes the same bodies for the same cases.
    """
    return JSONResponse(
        {"type": type_, "title": _TITLES.get(status, "Error"), "status": status, "detail": detail},
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={"Retry-After": str(RETRY_AFTER_S)} if retry else None,
    )


class BodyTooLarge(Exception):
    """A streamed request body grew past the route's cap."""


class NormalisePath:
    """ASGI middleware: route and forward the normalised path, or answer 400.

    Runs before routing, so the static files, the API routes and the
    services all see one path (:func:`routes.normalise_path`).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        raw = raw.partition(b"?")[0]
        try:
            path, forward = normalise_path(raw)
        except BadPath as refused:
            await problem(400, str(refused))(scope, receive, send)
            return
        await self.app({**scope, "path": path, "raw_path": forward}, receive, send)


class _Dashboard(StaticFiles):
    """web/ as static files; a missing file is a 404 for every method, as nginx's."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD") and self.lookup_path(path)[1] is None:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def create_gateway(
    upstreams: Mapping[str, str],
    web_dir: Path | None = None,
    trusted_proxies: frozenset[str] = frozenset(),
    openapi_file: Path | None = None,
    timeout_s: float = TIMEOUT_S,
    tracer_provider: TracerProvider | None = None,
) -> Starlette:
    """A Starlette app proxying ``/api/...`` to ``upstreams[service]`` base URLs.

    ``trusted_proxies``: peers (e.g. a load balancer in front) whose own
    ``X-Forwarded-For`` is kept; from anyone else it is replaced.
    ``openapi_file``: the public API's OpenAPI document
    (:data:`cachalot_embedded.openapi.DOCUMENT_FILE`), served at
    ``GET /api/v1/openapi.json`` to anyone, as nginx serves it, with its page
    ``web_dir/api-docs.html`` at ``GET /api/v1/docs``; other methods get 405.
    ``timeout_s``: how long a service may take to accept a piece of a body,
    or to answer once the body is sent, before the answer is a 504.
    ``tracer_provider``: each proxied request is a server span of the gateway
    (continuing the caller's ``traceparent``, if any) and the service is sent
    that span's context instead of the caller's, so a trace shows the gateway
    hop (issue 13 item 4); None: headers pass as they came.
    """
    trusted = trusted_proxies
    # No client library sits between: nothing stores one person's Set-Cookie
    # or follows a redirect; each request is its own exchange (upstream.py).

    async def proxy(request: Request) -> Response:
        path: str = request.scope["path"]  # normalised; request.url.path would end at a "?"
        raw_headers: list[tuple[bytes, bytes]] = request.scope["headers"]
        service = service_for(path)
        if service is None:
            return problem(404, f"No API route for {path}.")
        cookies = [value for name, value in raw_headers if name.lower() == b"cookie"]
        if not is_public(path) and not has_session_cookie(cookies):
            return problem(401, "Sign in first.", type_=NOT_SIGNED_IN)
        limit = body_limit_bytes(path)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return problem(413, f"The body is larger than this route's {limit}-byte limit.")
        base = upstreams.get(service)
        if base is None:
            return problem(503, f"The {service} service is not running in this mode.", retry=True)
        split = urlsplit(base)
        target_host = split.netloc.encode("ascii")
        # Raw bytes, as nginx passes them: a header value outside ASCII is the
        # service's to judge, not a reason for the gateway to fail.
        headers = [
            (name, value)
            for name, value in raw_headers
            if name.lower() not in HOP_BY_HOP and name.lower() != b"x-forwarded-for"
        ]
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded and peer in trusted:
            headers.append((b"x-forwarded-for", f"{forwarded}, {peer}".encode("latin-1")))
        else:  # the gateway is the edge: what an outsider claims is not passed on
            headers.append((b"x-forwarded-for", peer.encode("latin-1")))
        headers.append((b"x-forwarded-proto", request.url.scheme.encode("latin-1")))
        headers.append((b"x-forwarded-host", request.headers.get("host", "").encode("latin-1")))
        # The body's framing as the client declared it: its Content-Length
        # (a service refuses a declared size before the body, as behind
        # nginx), chunked when it declared none; never both (RFC 9112 6.3).
        if declared.isdigit():
            headers.append((b"content-length", declared.encode("ascii")))
        elif "chunked" in request.headers.get("transfer-encoding", "").lower():
            headers.append((b"transfer-encoding", b"chunked"))
        headers.insert(0, (b"host", target_host))
        if tracer_provider is not None:
            headers = _with_current_trace(headers)
        target = request.scope["raw_path"]
        if request.scope.get("query_string"):
            target += b"?" + request.scope["query_string"]

        async def body() -> AsyncIterator[bytes]:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge
                yield chunk

        try:
            upstream = await exchange(
                split.hostname or "127.0.0.1",
                split.port or 80,
                request.method.encode("ascii"),
                target,
                headers,
                body(),
                connect_timeout_s=CONNECT_TIMEOUT_S,
                timeout_s=timeout_s,
            )
        except BodyTooLarge:
            return problem(413, f"The body is larger than this route's {limit}-byte limit.")
        except ClientDisconnect:
            return problem(400, "The request body ended before it was complete.")
        except UpstreamTimeout:
            return problem(504, f"The {service} service did not answer in time.", retry=True)
        except UpstreamUnreachable:
            # Not listening, or dropped the connection mid-request without an
            # answer (a crash during an upload): either way, try again shortly.
            return problem(
                503, f"The {service} service is not reachable; is it starting?", retry=True
            )
        response = StreamingResponse(
            _relay(upstream),
            status_code=upstream.status,
            background=BackgroundTask(upstream.aclose),
        )
        response.raw_headers = [
            (name, value)
            for name, value in upstream.headers
            if (name.lower() not in HOP_BY_HOP or name.lower() == b"content-length")
            and name.lower() not in EDGE_OWN
        ]
        if upstream.body_cut_short:
            # The client is still sending a body nobody will read: uvicorn
            # then closes instead of reading (and discarding) the rest.
            response.raw_headers.append((b"connection", b"close"))
        return response

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        return JSONResponse({"status": "ready"})

    def read_only(request: Request) -> Response | None:
        if request.method in ("GET", "HEAD"):
            return None
        refused = problem(405, "The OpenAPI document and its page are read with GET.")
        refused.headers["Allow"] = "GET, HEAD"
        return refused

    async def openapi(request: Request) -> Response:
        assert openapi_file is not None
        return read_only(request) or FileResponse(openapi_file, media_type="application/json")

    docs_page = web_dir / DOCS_PAGE if web_dir is not None else None

    async def docs(request: Request) -> Response:
        assert docs_page is not None
        return read_only(request) or FileResponse(docs_page, media_type="text/html")

    routes: list[Route | Mount] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
    ]
    if openapi_file is not None:
        routes.append(Route(DOCUMENT_PATH, openapi, methods=[*_METHODS]))
        if docs_page is not None and docs_page.exists():
            routes.append(Route(DOCS_PATH, docs, methods=[*_METHODS]))
    routes += [
        Route(
            "/api/{path:path}",
            proxy,
            methods=[*_METHODS],
        ),
        # signed media links (routes.MEDIA_LINKS): to the queue, for anyone
        Route(MEDIA_LINKS[0] + "/{path:path}", proxy, methods=[*_METHODS]),
    ]
    if web_dir is not None and (web_dir / "index.html").exists():
        index = web_dir / "index.html"

        async def spa(_: Request) -> Response:
            return FileResponse(index)

        routes.append(Route("/", spa))
        routes.append(Mount(SWAGGER_UI_PATH, app=swagger_ui_files()))
        routes.append(Mount("/", app=_Dashboard(directory=web_dir, html=True)))

    middleware = [Middleware(NormalisePath)]
    if tracer_provider is not None:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        # the API and media links are traced; probes and the dashboard's files are not
        untraced = r"^(?!https?://[^/]+(/api/|" + re.escape(MEDIA_LINKS[0]) + "/))"
        middleware.insert(
            0,
            Middleware(
                OpenTelemetryMiddleware,  # type: ignore[arg-type]
                tracer_provider=tracer_provider,
                excluded_urls=untraced,
                exclude_spans=["receive", "send"],
                server_request_hook=scrub_server_span,
            ),
        )
    return Starlette(routes=routes, middleware=middleware)


_TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


def _with_current_trace(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with the caller's trace context replaced by the current span's."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    kept = [(n, v) for n, v in headers if n.lower() not in _TRACE_HEADERS]
    return kept + [(k.encode("ascii"), v.encode("latin-1")) for k, v in carrier.items()]


async def _relay(upstream: Upstream) -> AsyncIterator[bytes]:
    """The service's body as it arrives; a service that dies mid-answer ends it early.

    The status line is already sent by then, so the client sees a short body
    (the Content-Length is not met, or the chunked stream has no end).
    """
    with contextlib.suppress(UpstreamUnreachable, UpstreamTimeout):
        async for chunk in upstream.body():
            yield chunk
