"""A stand-in for auth's lease endpoint, for benchmarks run without the auth service.

It speaks the contract of :mod:`cachalot_common.leases` (verifies the
caller's service JWT) and hands out access tokens minted by the sandbox.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cachalot_common.service_auth import ServiceAuthError, verify_service_token
from cachalot_testing.ports import free_port, wait_for_port


class LeaseStub:
    def __init__(
        self,
        *,
        sandbox: str,
        platform: str,
        scopes: list[str],
        services: dict[str, str],
        subject: str | None = None,
        destination: str | None = None,
    ) -> None:
        """``subject``: the platform user every token is for (default ``user-<account id>``;
        VK's are numbers); ``destination``: the lease's ``destination`` (Telegram's channel)."""
        self.sandbox = sandbox
        self.platform = platform
        self.scopes = scopes
        self.services = services
        self.subject = subject
        self.destination = destination
        self.port = free_port()
        self._tokens: dict[str, str] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/internal/v1/accounts/{account_id}/lease")
        async def lease(account_id: str, request: Request) -> JSONResponse:
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                verify_service_token(bearer, secrets=self.services)
            except ServiceAuthError:
                return JSONResponse({"detail": "bad service token"}, status_code=401)
            body = await request.json()
            if body.get("force_refresh") or account_id not in self._tokens:
                async with httpx.AsyncClient() as client:
                    minted = await client.post(
                        f"{self.sandbox}/sandbox/tokens",
                        json={
                            "platform": self.platform,
                            "subject": self.subject or f"user-{account_id}",
                            "scopes": self.scopes,
                        },
                    )
                self._tokens[account_id] = minted.json()["access_token"]
            return JSONResponse(
                {
                    "account_id": account_id,
                    "platform": self.platform,
                    "access_token": self._tokens[account_id],
                    "expires_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
                    "scopes": self.scopes,
                    "platform_user_id": self.subject or f"user-{account_id}",
                    "destination": self.destination,
                }
            )

        return app

    def start(self) -> LeaseStub:
        config = uvicorn.Config(self._app(), host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
