"""``/healthz`` (the process is alive) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[bool]]

# Documented so every service's OpenAPI lists the HTTP interface it has, even
# a consumer-only one whose whole interface is its probes.
_READINESS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "checks"],
    "properties": {
        "status": {"type": "string", "enum": ["ready", "not ready"]},
        "checks": {"type": "object", "additionalProperties": {"enum": ["ok", "failing"]}},
    },
}
_READINESS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every dependency answers.",
        "content": {"application/json": {"schema": _READINESS_SCHEMA}},
    },
    503: {
        "description": "Some dependency does not answer; `checks` says which.",
        "content": {"application/json": {"schema": _READINESS_SCHEMA}},
    },
}


def health_router(checks: Mapping[str, ReadinessCheck] | None = None) -> APIRouter:
    """Routes for probes; each readiness check gets two seconds."""
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
        results: dict[str, str] = {}
        for name, check in named.items():
            try:
                ok = await asyncio.wait_for(check(), timeout=2.0)
            except Exception:
                ok = False
            results[name] = "ok" if ok else "failing"
        ready = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    return router


def broker_check(broker: object) -> ReadinessCheck:
    """Ready when the FastStream broker answers a ping."""

    async def check() -> bool:
        ping = getattr(broker, "ping", None)
        if ping is None:
            return False
        return bool(await ping(timeout=1.5))

    return check
