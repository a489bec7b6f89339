"""Every route of a service asked with and without its trailing slash.

Issue 11: ``POST /api/v1/contact/`` answered 307 with a ``Location`` at the
contact service's internal port (Starlette's ``redirect_slashes``, built from
the ``Host`` the gateway sent). The rule since: a path that differs from a
route only by a trailing slash is a 404 problem document (RFC 9457), never a
redirect, in the service and at either gateway.

- :func:`slash_requests`: each route of an app, its path parameters filled,
  once as written and once with the trailing slash toggled.
- :class:`ServedApp`: an app served by a real uvicorn on a free port with
  its lifespan off (no broker, no database opened: routing is what is
  tested), so a gateway can stand in front of the real routes.
- :func:`check_toggled`: what the answer to a toggled spelling must be.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from cachalot_testing.ports import free_port

PROBLEM_JSON = "application/problem+json"
_PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True, slots=True)
class SlashRequest:
    method: str
    route: str
    """The route's path as the app declares it."""
    as_written: str
    """The route's path with its parameters filled."""
    toggled: str
    """``as_written`` with the trailing slash added, or removed."""


def _fill(path: str) -> str | None:
    """``path`` with each ``{param}`` filled; None for a ``{x:path}`` route (it takes any tail)."""
    out = path
    for match in _PARAM.finditer(path):
        if match[2] == "path":
            return None
        value = "1" if match[2] == "int" else str(uuid.uuid4())
        out = out.replace(match[0], value, 1)
    return out


def routes(app: Any) -> dict[str, set[str]]:
    """Every route of ``app`` as ``{path: methods}``, included routers walked too.

    FastAPI (0.16x) keeps an included router as one entry of ``app.routes``
    whose ``effective_route_contexts()`` gives the routes with their full
    paths; the OpenAPI document's paths are added, so a route in the
    document is never missed whatever FastAPI's internals become.
    """
    found: dict[str, set[str]] = {}

    def add(path: str | None, methods: Any) -> None:
        if path:
            found.setdefault(path, set()).update(methods or {"GET"})

    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is None:
            add(getattr(route, "path", None), getattr(route, "methods", None))
            continue
        for context in contexts():
            add(context.path, getattr(context.original_route, "methods", None))
    for path, item in app.openapi().get("paths", {}).items():
        add(path, {method.upper() for method in item if method.upper() in _METHODS})
    return found


def slash_requests(app: Any, *, prefix: str = "/") -> list[SlashRequest]:
    """One request per (route, method) of ``app`` whose path starts with ``prefix``.

    ``app``: a FastAPI app (:func:`routes`). Routes that take any tail
    (``{x:path}``) and the root ``/`` are left out: no slash to toggle; so is
    a toggled spelling the app itself declares for that method (tus servers
    declare creation at ``/uploads`` and ``/uploads/``, tus.io protocol 1.0.0).
    """
    requests: list[SlashRequest] = []
    declared = routes(app)
    for path, methods in sorted(declared.items()):
        if path == "/" or not path.startswith(prefix):
            continue
        filled = _fill(path)
        if filled is None:
            continue
        toggled = filled[:-1] if filled.endswith("/") else filled + "/"
        toggled_route = path[:-1] if path.endswith("/") else path + "/"
        for method in _METHODS:
            if method in methods and method not in declared.get(toggled_route, ()):
                requests.append(SlashRequest(method, path, filled, toggled))
    return requests


def send(
    client: httpx.Client,
    request: SlashRequest,
    path: str,
    cookies: dict[str, str] | None = None,
) -> httpx.Response:
    """``request.method`` at ``path`` with a small JSON body where one is sent.

    No redirect is followed (``client`` is built with ``follow_redirects=False``).
    """
    body = b"{}" if request.method in ("POST", "PUT", "PATCH") else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return client.request(request.method, path, content=body, headers=headers)


def check_toggled(
    answer: httpx.Response,
    request: SlashRequest,
    internal: list[str],
    *,
    statuses: tuple[int, ...] = (404,),
) -> None:
    """The toggled spelling: a 404 problem document, no ``Location``, no internal address.

    ``internal``: the ``host:port`` of every service behind the gateway;
    none may appear in the answer's headers or body. ``statuses``: the
    problems accepted (a service asked without the proof its gate wants
    refuses with 401 before routing; that too is no redirect).
    """
    where = f"{request.method} {request.toggled} (route {request.route})"
    assert answer.status_code in statuses, f"{where}: {answer.status_code} {answer.headers}"
    assert "location" not in answer.headers, where
    assert answer.headers["content-type"].startswith(PROBLEM_JSON), where
    document = answer.json()
    assert document["status"] == answer.status_code, where
    assert {"type", "title", "status"} <= set(document), where
    _no_internal_address(answer, internal, where)


def _no_internal_address(answer: httpx.Response, internal: list[str], where: str) -> None:
    text = answer.text + " " + " ".join(f"{k}: {v}" for k, v in answer.headers.items())
    for address in internal:
        assert address not in text, f"{where}: leaks {address}"


class ServedApp:
    """``app`` served by uvicorn on 127.0.0.1 (a free port), lifespan off, until :meth:`stop`."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.address}"
        self.server = uvicorn.Server(
            uvicorn.Config(
                app,
                host="127.0.0.1",
                port=self.port,
                lifespan="off",
                log_config=None,
                access_log=False,
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
