"""No route of any service answers a trailing-slash variant with a redirect (issue 11, item A1).

The issue's input: ``POST /api/v1/contact/`` through the embedded gateway
answered 307 with ``Location: http://127.0.0.1:8101/api/v1/contact``, the
contact service's internal address, and every FastAPI app of the project did
the same for each of its routes. Here every service's real app (built by its
own ``create_app``, served by uvicorn with its lifespan off: routing is what
is tested) is asked every route with its trailing slash toggled (added where the route
has none, removed where it has one), directly and, for the public routes,
through the embedded gateway. The spellings as declared are exercised by
every other test of the services (their lifespan is off here). The nginx gateway
is tested the same way in deploy/tests/test_gateway_nginx.py.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from cachalot_common.sessions import COOKIE_NAME, Role, issue_session
from cachalot_embedded.asyncapi import BUILDERS as ASYNCAPI_BUILDERS
from cachalot_embedded.gateway import create_gateway
from cachalot_embedded.openapi import BUILDERS, DOCUMENT_FILE, _no_cachalot_environment
from cachalot_embedded.routes import ROUTES, service_for
from cachalot_testing.ports import free_port, wait_for_port
from cachalot_testing.slashes import (
    ServedApp,
    check_toggled,
    send,
    slash_requests,
)

ROOT = Path(__file__).resolve().parents[2]
SESSION_SECRET = "openapi-throwaway-secret"  # what cachalot_embedded.openapi.BUILDERS sign with


def session_cookie(path: str) -> dict[str, str]:
    """A real session of the role ``path`` serves, signed as the built services verify it."""
    role: Role = "operator" if path.startswith("/api/v1/operator") else "client"
    token, _ = issue_session(
        client_id=uuid.uuid4(), secret=SESSION_SECRET, lifetime_s=600, role=role
    )
    return {COOKIE_NAME: token}


def _notifier(_: Path) -> Any:
    from cachalot_notifier.main import create_app
    from cachalot_notifier.settings import NotifierSettings

    settings = NotifierSettings(
        telegram_bot_token="123456:slash-test",  # type: ignore[arg-type]
        operator_chat_id="1",
        kafka_bootstrap="127.0.0.1:9",
    )
    return create_app(settings)


def _sandbox(_: Path) -> Any:
    from cachalot_sandbox.main import create_app
    from cachalot_sandbox.settings import SandboxSettings

    return create_app(SandboxSettings())


EVERY_SERVICE: dict[str, Callable[[Path], Any]] = {
    **BUILDERS,
    "notifier": _notifier,
    # each publisher as its AsyncAPI document is built: its own declaration's create_app
    **{name: build for name, build in ASYNCAPI_BUILDERS.items() if name.startswith("publisher-")},
    "sandbox": _sandbox,
}


def internal_addresses(served: dict[str, ServedApp]) -> list[str]:
    """Our services' addresses; the sandbox stands for the platforms, whose addresses are public."""
    return [app.address for name, app in served.items() if name != "sandbox"]


@pytest.fixture(scope="module")
def apps() -> Iterator[dict[str, Any]]:
    with (
        tempfile.TemporaryDirectory(prefix="cachalot-slashes-") as tmp,
        _no_cachalot_environment(),
    ):
        yield {name: build(Path(tmp)) for name, build in EVERY_SERVICE.items()}


@pytest.fixture(scope="module")
def served(apps: dict[str, Any]) -> Iterator[dict[str, ServedApp]]:
    running = {name: ServedApp(app) for name, app in apps.items()}
    yield running
    for app in running.values():
        app.stop()


@pytest.fixture(scope="module")
def gateway(served: dict[str, ServedApp]) -> Iterator[str]:
    upstreams = {name: served[name].url for name in {s for _, s in ROUTES}}
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_gateway(upstreams, web_dir=ROOT / "web", openapi_file=DOCUMENT_FILE),
            host="127.0.0.1",
            port=port,
            log_config=None,
            proxy_headers=False,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_the_issue_input_a_contact_post_with_a_trailing_slash_is_a_404_problem_at_the_gateway(
    gateway: str, served: dict[str, ServedApp]
) -> None:
    answer = httpx.post(
        f"{gateway}/api/v1/contact/",
        json={"name": "A", "contact": "a@example.com", "message": "hi"},
    )
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert served["contact"].address not in answer.text


@pytest.mark.parametrize("service", list(EVERY_SERVICE))
def test_every_route_of_each_service_with_its_slash_toggled_is_a_404_problem_never_a_redirect(
    service: str, apps: dict[str, Any], served: dict[str, ServedApp]
) -> None:
    requests = slash_requests(apps[service])
    assert requests, f"{service} has no routes to walk"
    internal = internal_addresses(served)
    with httpx.Client(base_url=served[service].url, follow_redirects=False, timeout=10) as client:
        for request in requests:
            toggled = send(client, request, request.toggled, session_cookie(request.as_written))
            check_toggled(toggled, request, internal, statuses=(404, 401))


def test_every_public_route_with_its_slash_toggled_is_a_404_problem_through_the_gateway(
    gateway: str, apps: dict[str, Any], served: dict[str, ServedApp]
) -> None:
    internal = internal_addresses(served)
    walked = 0
    with httpx.Client(base_url=gateway, follow_redirects=False, timeout=10) as client:
        for service in {s for _, s in ROUTES}:
            for request in slash_requests(apps[service], prefix="/api/"):
                if service_for(request.as_written) != service:
                    continue  # not routed to this service by the gateway
                cookie = session_cookie(request.as_written)
                check_toggled(send(client, request, request.toggled, cookie), request, internal)
                walked += 1
    assert walked >= 20
