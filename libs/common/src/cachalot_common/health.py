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

Every service declares its dependencies with one helper,
:func:`declared_dependencies`: its outbox relay (publishing, or failing in a
row), the services it calls over HTTP (``/healthz`` of auth for a publisher's
leases, of auth for the notifier's client addresses) and any check of its own
(contact: its broker and its relay child). What a service cannot serve a
request without (its database; for a consumer, the broker and its consumers)
stays a ``check``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import httpx
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


class _RelayHealth(Protocol):
    @property
    def failures(self) -> int: ...


class _Relay(Protocol):
    def health(self) -> _RelayHealth: ...


def relay_publishing(relay: Callable[[], _Relay | None]) -> ReadinessCheck:
    """A dependency: the outbox relay ``relay()`` returns is publishing (its last
    round did not fail; :class:`cachalot_common.outbox.OutboxRelay`). ``None`` (no
    relay runs in this process, e.g. a queue with ``CACHALOT_RUN_WORKERS=0``) is
    failing: nothing this process commits leaves it."""

    async def check() -> bool:
        running = relay()
        return running is not None and running.health().failures == 0

    return check


def service_answers(base_url: str, *, timeout_s: float = 1.5) -> ReadinessCheck:
    """A dependency: the service at ``base_url`` answers ``GET /healthz`` with 200 within
    ``timeout_s`` seconds (its liveness, not its readiness: a service that waits out
    its own dependencies still serves us)."""
    url = f"{base_url.rstrip('/')}/healthz"

    async def check() -> bool:
        async with httpx.AsyncClient(timeout=timeout_s, trust_env=False) as client:
            return (await client.get(url)).status_code == 200

    return check


def declared_dependencies(
    *,
    outbox: Callable[[], _Relay | None] | None = None,
    services: Mapping[str, str] | None = None,
    own: Mapping[str, ReadinessCheck] | None = None,
) -> dict[str, ReadinessCheck]:
    """What a service waits out while taking traffic, name → check, for
    ``create_service_app(dependencies=...)``: the relay of the ``outbox``
    (``"relay"``, see :func:`relay_publishing`), each of ``services`` (name → base URL, see
    :func:`service_answers`) and the service's ``own`` checks under their names.
    ``ValueError`` when a name is given twice."""
    named: dict[str, ReadinessCheck] = {}

    def add(name: str, check: ReadinessCheck) -> None:
        if name in named:
            raise ValueError(f"dependency {name!r} declared twice")
        named[name] = check

    if outbox is not None:
        add("relay", relay_publishing(outbox))
    for name, base_url in (services or {}).items():
        add(name, service_answers(base_url))
    for name, check in (own or {}).items():
        add(name, check)
    return named


def broker_check(broker: object) -> ReadinessCheck:
    """Ready when the FastStream broker answers a ping."""

    async def check() -> bool:
        ping = getattr(broker, "ping", None)
        if ping is None:
            return False
        return bool(await ping(timeout=1.5))

    return check
