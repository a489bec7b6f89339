"""The embedded API gateway: one origin for the dashboard and every service.

In distributed mode a real gateway (nginx, an ingress) does this; embedded
mode needs no extra software, so a small streaming reverse proxy routes by
path prefix (:mod:`routes`). Bodies are streamed both ways (a video upload
never sits in the gateway's memory), redirects and every ``Set-Cookie`` are
passed through untouched, and ``X-Forwarded-For`` is appended so services
that trust the gateway see the real client address.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cachalot_embedded.routes import service_for

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": "Gateway", "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def create_gateway(
    upstreams: Mapping[str, str],
    web_dir: Path | None = None,
    trusted_proxies: frozenset[str] = frozenset(),
) -> Starlette:
    """A Starlette app proxying ``/api/...`` to ``upstreams[service]`` base URLs.

    ``trusted_proxies``: peers (e.g. a load balancer in front) whose own
    ``X-Forwarded-For`` is kept; from anyone else it is replaced.
    """
    trusted = trusted_proxies
    # A proxy must never remember cookies: httpx's default jar would store one
    # person's Set-Cookie and send it with everyone's later requests.
    no_cookies = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    client = httpx.AsyncClient(
        cookies=no_cookies,
        timeout=httpx.Timeout(60.0, connect=5.0),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
    )

    async def proxy(request: Request) -> Response:
        service = service_for(request.url.path)
        if service is None:
            return _problem(404, f"No API route for {request.url.path}.")
        base = upstreams.get(service)
        if base is None:
            return _problem(503, f"The {service} service is not running in this mode.")
        headers = [
            (k, v)
            for k, v in request.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "x-forwarded-for"
        ]
        peer = request.client.host if request.client else ""
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded and peer in trusted:
            headers.append(("x-forwarded-for", f"{forwarded}, {peer}"))
        else:  # the gateway is the edge: what an outsider claims is not passed on
            headers.append(("x-forwarded-for", peer))
        headers.append(("x-forwarded-proto", request.url.scheme))
        headers.append(("x-forwarded-host", request.headers.get("host", "")))
        url = base.rstrip("/") + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        upstream_request = client.build_request(
            request.method, url, headers=headers, content=request.stream()
        )
        try:
            upstream = await client.send(upstream_request, stream=True)
        except httpx.ConnectError:
            return _problem(503, f"The {service} service is not reachable; is it starting?")
        except httpx.TimeoutException:
            return _problem(504, f"The {service} service did not answer in time.")
        response_headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in upstream.headers.multi_items()
            if k.lower() not in HOP_BY_HOP
        ]
        response = StreamingResponse(
            upstream.aiter_raw(),
            status_code=upstream.status_code,
            background=BackgroundTask(upstream.aclose),
        )
        response.raw_headers = [
            *response_headers,
            *((b"content-length", v.encode()) for v in upstream.headers.get_list("content-length")),
        ]
        return response

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes: list[Route | Mount] = [
        Route("/healthz", healthz),
        Route(
            "/api/{path:path}",
            proxy,
            methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"],
        ),
    ]
    if web_dir is not None and (web_dir / "index.html").exists():
        index = web_dir / "index.html"

        async def spa(_: Request) -> Response:
            return FileResponse(index)

        routes.append(Route("/", spa))
        routes.append(Mount("/", app=StaticFiles(directory=web_dir, html=True)))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    return Starlette(routes=routes, lifespan=lifespan)
