"""One way to build and serve a service's HTTP app.

Every service, consumer-only ones included, is a FastAPI app so it answers
``/healthz`` and ``/readyz`` and shows its OpenAPI document. The broker, the
database engine and HTTP clients are built in the service's lifespan (its
composition root), never at import time.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Final, Protocol

import uvicorn
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace import TracerProvider

from cachalot_common.access_log import AccessLogMiddleware, setup_access_log
from cachalot_common.asyncapi import Produced, asyncapi_document, asyncapi_router
from cachalot_common.docs import install_docs
from cachalot_common.guards import Guards, SignedIn, install_guards
from cachalot_common.health import ReadinessCheck, dependency_probe, health_router
from cachalot_common.metrics import install_metrics
from cachalot_common.problems import install_problem_handlers
from cachalot_common.settings import ServiceSettings
from cachalot_common.telemetry import instrument_app


class Lifespan(Protocol):
    def __call__(self, app: FastAPI) -> AbstractAsyncContextManager[None]: ...


def create_service_app(
    *,
    title: str,
    settings: ServiceSettings,
    lifespan: Lifespan | None = None,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    dependencies: Mapping[str, ReadinessCheck] | None = None,
    tracer_provider: TracerProvider | None = None,
    signed_in: Sequence[SignedIn] = (),
    guarded: bool = True,
    description: str = "",
    version: str = "0.1.0",
    produces: Sequence[Produced] = (),
    **fastapi_options: Any,
) -> FastAPI:
    """A FastAPI app with problem details, probes, metrics, access log and tracing.

    Every request passes the guards (``cachalot_common.guards``) before a
    route reads its body: cross-origin writes refused (pages of the
    ``public_url`` and ``allowed_origins`` settings' origins are allowed), the
    proof of who is calling checked first on the paths ``signed_in`` names,
    body types and sizes bounded. Only the sandbox, a fake of the
    platforms, turns them off (``guarded=False``).

    A path that differs from a route only by a trailing slash is a 404
    problem, never a redirect: Starlette's ``redirect_slashes`` builds the
    ``Location`` from the ``Host`` the service was called with, which behind
    a gateway is the service's internal address (issue 11: ``POST
    /api/v1/contact/`` answered 307 to ``http://127.0.0.1:8101/...``), and a
    307 re-sends a form's body to wherever it points. Every route has one
    spelling; the OpenAPI document says which.

    ``readiness`` checks gate ``/readyz`` (503: send no traffic); ``dependencies``
    are ones the service waits out while taking traffic: reported there and as
    ``cachalot_dependency_up`` (:mod:`cachalot_common.health`).

    ``GET /asyncapi`` serves the service's AsyncAPI 3.0 document
    (:mod:`cachalot_common.asyncapi`): what ``app.state.broker`` (if set)
    consumes, and the events named in ``produces``.

    ``GET /docs`` is Swagger UI from the copy vendored in this package
    (:func:`cachalot_common.docs.install_docs`), not FastAPI's page, which loads it
    from a CDN; FastAPI's ``/redoc`` (also a CDN's) is off.
    """
    options: dict[str, Any] = {"docs_url": None, "redoc_url": None, **fastapi_options}
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        redirect_slashes=False,
        **options,
    )
    if options["docs_url"] is None:
        install_docs(app)
    install_problem_handlers(app)
    if guarded:
        install_guards(
            app,
            Guards.for_service(
                public_url=settings.public_url,
                allowed_origins=settings.allowed_origins,
                signed_in=signed_in,
                body_idle_s=settings.request_body_idle_s,
            ),
        )
    probe = dependency_probe(dependencies) if dependencies else None
    app.include_router(health_router(readiness, probe))
    app.state.produces = tuple(produces)
    app.include_router(asyncapi_router(service_asyncapi))
    install_metrics(app, before=probe)
    app.add_middleware(AccessLogMiddleware, trusted_proxies=settings.trusted_proxies)
    if tracer_provider is not None:
        instrument_app(app, tracer_provider)
    return app


KEEP_ALIVE_S: Final = 65
"""How long a server of ours keeps an idle HTTP/1.1 connection open (nginx.conf's
``keepalive_timeout``). It must outlast every client's own idle limit (httpx: 5 s,
:func:`cachalot_publishing.http.platform_http_client`): with uvicorn's 5 s default
both ends gave up on an idle connection at the same moment, and a request sent on it
just as the server closed it failed with ``httpx.ReadError`` (seen under load, where
the two clocks drift further apart)."""


GC_THRESHOLDS: Final = (50_000, 20, 10)
"""The cyclic collector's thresholds in every service (CPython's default: 700, 10, 10):
a young collection after 50,000 new container objects instead of 700. Under
``bench/pipeline.py`` the collector was a quarter of publisher-tiktok's CPU (py-spy
``--native``: ``gc_collect_main``), run every 700 allocations of a request's or a
command's short-lived objects; the garbage it frees is the same, found less often
(a few MB more of young objects at most)."""


def tune_gc() -> None:
    """Freeze what the process built so far and collect less often (:data:`GC_THRESHOLDS`).

    Everything built before serving (modules, pydantic schemas, the app) lives as
    long as the process: frozen, the collector no longer scans it again and again
    (a tenth of the contact service's CPU per request, ``bench/contact_intake.py``).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def serve(app: FastAPI, settings: ServiceSettings, *, access_log_dir: Path | None = None) -> None:
    """Run the app under uvicorn with this project's logging (not uvicorn's), the
    collector tuned first (:func:`tune_gc`).

    HTTP access records go to ``access_log_dir`` (default: the
    ``CACHALOT_ACCESS_LOG_DIR`` setting), rotated daily and kept 14 days.
    """
    setup_access_log(access_log_dir or settings.access_log_dir, app.title)
    tune_gc()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


def service_asyncapi(request: Request | FastAPI) -> dict[str, Any]:
    """The AsyncAPI document of an app built by :func:`create_service_app` (or of its request)."""
    app: FastAPI = request.app if isinstance(request, Request) else request
    return asyncapi_document(
        getattr(app.state, "broker", None),
        title=app.title,
        version=app.version,
        produced=getattr(app.state, "produces", ()),
    )
