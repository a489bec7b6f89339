"""``/healthz`` (the process is alive) and ``/readyz`` (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter
from fastapi.responses import JSONResponse

ReadinessCheck = Callable[[], Awaitable[bool]]


def health_router(checks: Mapping[str, ReadinessCheck] | None = None) -> APIRouter:
    """Routes for probes; each readiness check gets two seconds."""
    router = APIRouter(tags=["health"])
    named = dict(checks or {})

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
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
