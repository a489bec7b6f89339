"""The embedded gateway: routes by prefix, streams, and keeps nobody's cookies."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from cachalot_embedded.gateway import create_gateway
from cachalot_embedded.routes import service_for
from cachalot_testing.ports import free_port, wait_for_port


def _upstream() -> FastAPI:
    app = FastAPI()

    @app.post("/api/v1/auth/login-as/{who}")
    async def login(who: str, response: Response) -> dict[str, str]:
        response.set_cookie("cachalot_session", who, httponly=True)
        response.set_cookie("other", "x")
        return {"ok": who}

    @app.get("/api/v1/me")
    async def me(request: Request) -> dict[str, object]:
        return {
            "cookie": request.cookies.get("cachalot_session"),
            "forwarded": request.headers.get("x-forwarded-for"),
        }

    @app.post("/api/v1/media")
    async def media(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    return app


def _serve(app: object) -> tuple[uvicorn.Server, int]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, proxy_headers=False)
    )  # type: ignore[arg-type]
    threading.Thread(target=server.run, daemon=True).start()
    wait_for_port(port)
    return server, port


@pytest.fixture(scope="module")
def gateway() -> Iterator[str]:
    upstream, upstream_port = _serve(_upstream())
    base = f"http://127.0.0.1:{upstream_port}"
    gw, port = _serve(create_gateway({"auth": base, "queue": base}))
    yield f"http://127.0.0.1:{port}"
    gw.should_exit = True
    upstream.should_exit = True


def test_routes_map_public_paths_to_their_services() -> None:
    assert service_for("/api/v1/contact") == "contact"
    assert service_for("/api/v1/auth/tiktok/login") == "auth"
    assert service_for("/api/v1/me/export") == "auth"
    assert service_for("/api/v1/media") == "queue"
    assert service_for("/api/v1/posts/1/cancel") == "queue"
    assert service_for("/api/v1/mediator") is None
    assert service_for("/internal/v1/accounts/1/lease") is None


def test_one_persons_cookie_is_never_sent_with_anothers_request(gateway: str) -> None:
    with httpx.Client() as ann, httpx.Client() as bob:
        login = ann.post(f"{gateway}/api/v1/auth/login-as/ann")
        assert login.status_code == 200
        assert len(login.headers.get_list("set-cookie")) == 2
        assert ann.get(f"{gateway}/api/v1/me").json()["cookie"] == "ann"
        assert bob.get(f"{gateway}/api/v1/me").json()["cookie"] is None


def test_forwarded_for_from_an_outsider_is_replaced(gateway: str) -> None:
    seen = httpx.get(f"{gateway}/api/v1/me", headers={"X-Forwarded-For": "6.6.6.6"}).json()
    assert seen["forwarded"] == "127.0.0.1"


def test_bodies_stream_through_and_unknown_paths_are_problems(gateway: str) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(64):
            yield b"x" * 65536

    assert httpx.post(f"{gateway}/api/v1/media", content=body()).json() == {"size": 64 * 65536}
    missing = httpx.get(f"{gateway}/api/v1/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    down = httpx.post(f"{gateway}/api/v1/contact", json={})
    assert down.status_code == 503
