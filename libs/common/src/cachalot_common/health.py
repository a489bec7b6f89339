"""``/healthz`` (the process is alive) and ``/readyz`` (it can take traffic).

Readiness keeps two things apart (issue 13 item 6): the ``checks`` without
which a request cannot be served (a contact form's writable log) make it 503,
so an orchestrator or a gateway stops sending traffic; the ``dependencies``
the service waits out without refusing anything (the broker behind the
contact form's durable log) are reported beside them and leave it 200 with
``status: degraded``. Each dependency is also the gauge
``cachalot_dependency_up{dependency}`` (1 answers, 0 does not), evaluated at
every ``/readyz`` and every ``/metrics`` scrape, which the
``CachalotDependencyDown`` alert (deploy/prometheus/alerts.yml) reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from prometheus_client import Gauge

ReadinessCheck = Callable[[], Awaitable[bool]]

DEPENDENCY_UP = Gauge(
    "cachalot_dependency_up",
    "Whether a dependency this process waits out (it keeps taking traffic meanwhile) "
    "answers: 1 yes, 0 no; the CachalotDependencyDown alert reads it.",
    ["dependency"],
)

# Documented so every service's OpenAPI lists the HTTP interface it has, even
# a consumer-only one whose whole interface is its probes.
_READINESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ready", "degraded", "not ready"]},
        "checks": {"type": "object", "additionalProperties": {"enum": ["ok", "failing"]}},
        "dependencies": {
            "type": "object",
            "description": "Dependencies waited out: failing ones leave the service ready "
            "(status degraded), they do not stop its traffic.",
            "additionalProperties": {"enum": ["ok", "failing"]},
        },
    },
}
_READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "It can take traffic (`degraded`: a dependency it waits out is down).",
        "content": {"application/json": {"schema": _READINESS_SCHEMA}},
    },
    503: {
        "description": "It cannot take traffic; `checks` says why.",
        "content": {"application/json": {"schema": _READINESS_SCHEMA}},
    },
}


async def _evaluate(named: Mapping[str, ReadinessCheck]) -> dict[str, str]:
    results: dict[str, str] = {}
    for name, check in named.items():
        try:
            ok = await asyncio.wait_for(check(), timeout=2.0)
        except Exception:
            ok = False
        results[name] = "ok" if ok else "failing"
    return results


def dependency_probe(
    dependencies: Mapping[str, ReadinessCheck] | None,
) -> Callable[[], Awaitable[dict[str, str]]]:
    """Evaluates ``dependencies`` (two seconds each): name → ``ok``/``failing``, and sets
    ``cachalot_dependency_up`` for each."""
    named = dict(dependencies or {})

    async def probe() -> dict[str, str]:
        results = await _evaluate(named)
        for name, result in results.items():
            DEPENDENCY_UP.labels(name).set(1 if result == "ok" else 0)
        return results

    return probe


def health_router(
    checks: Mapping[str, ReadinessCheck] | None = None,
    dependencies: Callable[[], Awaitable[dict[str, str]]] | None = None,
) -> APIRouter:
    """Routes for probes; each readiness check gets two seconds.

    ``checks`` gate readiness (503 when one fails); ``dependencies`` (a
    :func:`dependency_probe`) are only reported (200, ``status: degraded``).
    """
    router = APIRouter(tags=["health"])
    named = dict(checks or {})

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Every dependency answers",
        response_class=JSONResponse,
        responses=_READINESS_RESPONSES,
    )
    async def readyz() -> JSONResponse:
        results = await _evaluate(named)
        ready = all(v == "ok" for v in results.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": results}
        if dependencies is not None:
            waited = await dependencies()
            body["dependencies"] = waited
            if ready and any(v != "ok" for v in waited.values()):
                body["status"] = "degraded"
        return JSONResponse(body, status_code=200 if ready else 503)

    return router


def broker_check(broker: object) -> ReadinessCheck:
    """Ready when the FastStream broker answers a ping."""

    async def check() -> bool:
        ping = getattr(broker, "ping", None)
        if ping is None:
            return False
        return bool(await ping(timeout=1.5))

    return check
