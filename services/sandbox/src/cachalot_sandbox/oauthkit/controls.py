"""Test controls for one fake OAuth server, under ``/sandbox/oauth/<platform>``.

- ``GET|POST /config``: token/code lifetimes and platform switches; POST a
  JSON object of the keys to change (unknown keys → 422 naming them).
- ``POST /faults``: queue canned answers for the next token-endpoint calls
  (a list or one object: ``status``, ``error``, ``error_description``,
  ``body``, ``grant_type``, ``delay_s``), consumed one per matching call;
  ``GET`` lists them, ``DELETE`` clears them.
- ``GET /stats``: token-endpoint calls per grant type, plus other counters.
- ``POST /users/{subject}/revoke``: the user removes the app at the platform.
- ``POST /users/{subject}/expire-refresh-tokens``: the user's refresh tokens die
  now (``invalid_grant`` on use) while the consent stays remembered, so a
  consent page without ``prompt=consent`` issues no new one (issue 11, item 4).
  ``refresh_token_lifetime_s`` in ``/config`` shortens the next ones instead.
- ``GET|POST /redirect-uris``: the redirect URIs registered for our app; POST a
  JSON list to register more until the next reset (the authorize page refuses
  any other, as the platforms do).
- ``POST /reset``: forget this platform's state only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from cachalot_common.problems import Problem
from cachalot_sandbox.oauthkit.state import Fault, PlatformState


def control_router(state: PlatformState) -> APIRouter:
    router = APIRouter(
        prefix=f"/sandbox/oauth/{state.platform}", tags=[f"sandbox: {state.platform} oauth"]
    )

    @router.get("/config")
    async def get_config() -> dict[str, float]:
        return dict(state.config)

    @router.post("/config")
    async def set_config(values: dict[str, float] = Body(...)) -> dict[str, float]:
        try:
            return state.configure(values)
        except KeyError as exc:
            names = str(exc.args[0])
            raise Problem(
                422,
                f"Unknown setting: {names}.",
                errors=[{"field": n, "message": "unknown setting"} for n in names.split(", ")],
            ) from exc

    @router.post("/faults")
    async def push_faults(faults: list[Fault] | Fault = Body(...)) -> dict[str, int]:
        batch = faults if isinstance(faults, list) else [faults]
        return {"pending": state.push_faults(batch)}

    @router.get("/faults")
    async def list_faults() -> list[Fault]:
        return list(state.faults)

    @router.delete("/faults")
    async def clear_faults() -> dict[str, int]:
        state.clear_faults()
        return {"pending": 0}

    @router.get("/stats")
    async def stats() -> dict[str, Any]:
        return state.stats()

    @router.post("/users/{subject}/expire-refresh-tokens")
    async def expire_refresh_tokens(subject: str) -> dict[str, int]:
        """The user's refresh tokens die now; the platform still remembers the consent."""
        return {"expired_refresh_tokens": state.expire_refresh_tokens(subject)}

    @router.post("/users/{subject}/revoke")
    async def revoke_user(subject: str) -> dict[str, int]:
        return {"revoked_grants": state.revoke_subject(subject)}

    @router.get("/redirect-uris")
    async def redirect_uris() -> list[str]:
        return sorted(state.redirect_uris)

    @router.post("/redirect-uris")
    async def register_redirect_uris(uris: list[str] = Body(...)) -> list[str]:
        return state.register_redirect_uris(uris)

    @router.post("/reset")
    async def reset() -> dict[str, str]:
        state.reset()
        return {"status": "reset"}

    return router
