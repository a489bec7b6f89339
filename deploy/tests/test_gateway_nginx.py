"""The gateway's nginx.conf, run by a real nginx in front of stand-in services.

Run in both run modes: with the image's upstreams file (Docker Compose) and
with the one Kubernetes mounts in its place (the gateway-upstreams ConfigMap),
so the gateway's rules are shown to hold in each. The upstream host names are
swapped for local stand-ins (one per service, each recording what reaches it
and answering with its own name), the listen port for a free one; everything
else is the committed configuration. The request table
(``cachalot_testing.gateway.CASES``) is the one the embedded gateway is tested
with. Skipped where nginx is not installed (`apt-get install nginx-light`).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from cachalot_common.problems import Problem
from cachalot_common.sessions import COOKIE_NAME, Role, issue_session, wrong_role
from cachalot_embedded.openapi import BUILDERS, _no_cachalot_environment
from cachalot_embedded.routes import MEDIA_PREFIX, OPERATOR_MEDIA_PREFIX, ROUTES, service_for
from cachalot_testing.gateway import (
    CASES,
    CLIENT_ON_OPERATOR_ROUTE,
    FORGED_SESSION,
    OPERATOR_ON_CLIENT_ROUTE,
    SESSION,
    SESSION_CHECK,
    Case,
    StandIn,
    case_id,
    check,
    check_api_docs,
    check_event_stream,
    check_openapi,
    check_service_down,
    send_raw,
)
from cachalot_testing.nginx import NGINX, NGINX_CONF, OPENAPI_FILE, NginxGateway
from cachalot_testing.slashes import ServedApp, check_toggled, send, slash_requests

ROOT = Path(__file__).resolve().parents[2]
MODES = ("compose", "kubernetes")

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


def upstreams_file(mode: str) -> str:
    """The committed upstreams file nginx.conf includes in ``mode``."""
    if mode == "compose":
        return (ROOT / "deploy" / "gateway" / "upstreams.conf").read_text()
    manifests = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "base" / "gateway.yaml").read_text())
    config_map = next(m for m in manifests if m["metadata"]["name"] == "gateway-upstreams")
    text: str = config_map["data"]["upstreams.conf"]
    return text


def with_stand_ins(text: str, mode: str, services: Mapping[str, Any]) -> str:
    """``text`` with each service's host:port swapped for its stand-in's address."""
    if mode == "compose":
        pattern = r"^(\s*)([\w-]+) \2:\d+;$"  # the map: "contact contact:8101;"
        text, count = re.subn(
            pattern, lambda m: f"{m[1]}{m[2]} 127.0.0.1:{services[m[2]].port};", text, flags=re.M
        )
    else:
        pattern = r"upstream ([\w-]+) \{ server \1:\d+; \}"
        text, count = re.subn(
            pattern,
            lambda m: f"upstream {m[1]} {{ server 127.0.0.1:{services[m[1]].port}; }}",
            text,
        )
        # The pod network the controller is in: here, this machine.
        text, trusted = re.subn(r"set_real_ip_from \S+;", "set_real_ip_from 127.0.0.1;", text)
        assert trusted == 1
    assert count == len(services), text
    return text


@pytest.fixture(scope="module", params=MODES)
def gateway(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    services = {name: StandIn(name) for name in {service for _, service in ROUTES}}
    try:
        with running_nginx(request.param, services) as running:
            yield running
    finally:
        for server in services.values():
            server.stop()


@contextlib.contextmanager
def running_nginx(mode: str, services: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The committed nginx.conf in ``mode`` in front of ``services`` (each with a ``port``)."""
    running = NginxGateway(with_stand_ins(upstreams_file(mode), mode, services)).start(timeout=10)
    try:
        yield {"base": running.base, "services": services, "workdir": running.workdir, "mode": mode}
    finally:
        running.stop()


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_the_gateway_answers_each_request_as_the_embedded_gateway_does(
    case: Case, gateway: dict[str, Any]
) -> None:
    check(case, gateway["base"], gateway["services"])


def test_every_route_reaches_its_service_with_path_and_query_unchanged(
    gateway: dict[str, Any],
) -> None:
    with httpx.Client(base_url=gateway["base"], headers=[SESSION]) as client:
        for prefix, service in ROUTES:
            for path in (prefix, f"{prefix}/some/id?page=2&q=a%20b"):
                answer = client.get(path)
                assert answer.status_code == 200, path
                assert answer.json()["service"] == service, path
                assert answer.json()["path"] == path


def test_a_prefix_does_not_match_a_longer_word_and_unknown_api_paths_are_problems(
    gateway: dict[str, Any],
) -> None:
    for path in ("/api/v1/meow", "/api/v1/postsx", "/api/v2/posts"):
        answer = httpx.get(gateway["base"] + path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["status"] == 404


def test_the_client_address_replaces_any_forwarded_for_the_client_sends(
    gateway: dict[str, Any],
) -> None:
    answer = httpx.get(
        gateway["base"] + "/api/v1/contact",
        headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"},
    )
    if gateway["mode"] == "compose":  # the gateway is the edge: its peer is the client
        assert answer.json()["x_forwarded_for"] == "127.0.0.1"
    else:  # the ingress controller in front is believed, and only it
        assert answer.json()["x_forwarded_for"] == "203.0.113.9"


def test_video_uploads_stream_through_while_other_routes_keep_a_small_body_limit(
    gateway: dict[str, Any],
) -> None:
    queue: StandIn = gateway["services"]["queue"]
    queue.first_bytes.clear()
    size = 3 * 1024 * 1024
    streamed_before_the_end: list[bool] = []

    def body() -> Iterator[bytes]:
        yield b"x" * 65536
        # Without proxy_request_buffering off, nginx would hold this back
        # until the whole body had arrived.
        streamed_before_the_end.append(queue.first_bytes.wait(timeout=5))
        sent = 65536
        while sent < size:
            yield b"x" * 65536
            sent += 65536

    answer = httpx.post(
        gateway["base"] + "/api/v1/media",
        content=body(),
        headers=[(b"Content-Length", str(size).encode()), SESSION],
        timeout=30,
    )
    assert answer.status_code == 200
    assert answer.json()["received"] == size
    assert streamed_before_the_end == [True]
    too_big = httpx.post(
        gateway["base"] + "/api/v1/contact", content=b"x" * size, headers=[SESSION], timeout=30
    )
    assert too_big.status_code == 413


def test_the_dashboard_is_served_at_the_root(gateway: dict[str, Any]) -> None:
    answer = httpx.get(gateway["base"] + "/")
    assert answer.status_code == 200
    assert answer.text == (ROOT / "web" / "index.html").read_text()
    assert httpx.get(gateway["base"] + "/healthz").json() == {"status": "ok"}


def test_the_access_log_keeps_the_path_but_never_the_query_string(
    gateway: dict[str, Any],
) -> None:
    httpx.get(gateway["base"] + "/api/v1/auth/tiktok/callback?code=SECRETCODE&state=abc")
    log = gateway["workdir"] / "access.log"
    deadline = time.monotonic() + 5
    while "/api/v1/auth/tiktok/callback" not in log.read_text():
        assert time.monotonic() < deadline, "no access log line"
        time.sleep(0.05)
    text = log.read_text()
    assert "SECRETCODE" not in text
    record = json.loads(next(line for line in text.splitlines() if "/tiktok/callback" in line))
    assert record["ip"] == "127.0.0.1"
    assert record["status"] == 200


def test_the_access_log_masks_a_media_links_signature(gateway: dict[str, Any]) -> None:
    signature = "SIGNATUREabcdefghijklmnopqrstuvwxyz0123456"
    path = f"/media/v1/6f1c2d3e-0000-4000-8000-000000000001/1790000000/{signature}"
    assert httpx.get(gateway["base"] + path).status_code == 200
    log = gateway["workdir"] / "access.log"
    deadline = time.monotonic() + 5
    while "/media/v1/" not in log.read_text():
        assert time.monotonic() < deadline, "no access log line"
        time.sleep(0.05)
    text = log.read_text()
    assert signature not in text
    record = json.loads(next(line for line in text.splitlines() if "/media/v1/" in line))
    assert record["path"] == path.replace(signature, "***")


def test_a_service_that_is_down_answers_503_problem_with_retry_after(
    gateway: dict[str, Any],
) -> None:
    check_service_down(gateway["base"], gateway["services"])


def test_the_openapi_document_is_served_to_anyone_as_the_embedded_gateway_serves_it(
    gateway: dict[str, Any],
) -> None:
    check_openapi(gateway["base"], gateway["services"], OPENAPI_FILE.read_bytes())


def test_the_api_docs_page_is_served_to_anyone_with_its_vendored_assets_as_embedded_serves_it(
    gateway: dict[str, Any],
) -> None:
    check_api_docs(gateway["base"], gateway["services"])


def test_an_upload_goes_through_after_one_session_check_with_the_cookie_and_no_body(
    gateway: dict[str, Any],
) -> None:
    queue: StandIn = gateway["services"]["queue"]
    queue.seen.clear()
    answer = send_raw(
        gateway["base"],
        "POST",
        b"/api/v1/media",
        headers=(SESSION, (b"X-Note", b"kept from the check")),
        body=b"v" * (256 * 1024),
    )
    assert answer.status == 200, answer
    check_request, upload = queue.seen
    assert (check_request.method, check_request.target) == SESSION_CHECK
    assert check_request.received == 0
    sent = dict(check_request.headers)
    assert sent["cookie"] == SESSION[1]
    assert not {"content-length", "transfer-encoding", "x-note"} & set(sent), sent
    assert (upload.method, upload.target, upload.received) == ("POST", "/api/v1/media", 256 * 1024)
    # Bodiless media requests are not checked twice: the queue refuses them itself.
    queue.seen.clear()
    assert send_raw(gateway["base"], "GET", b"/api/v1/media", headers=(SESSION,)).status == 200
    assert [(r.method, r.target) for r in queue.seen] == [("GET", "/api/v1/media")]


def test_an_operators_upload_into_a_clients_library_streams_after_an_operator_session_check(
    gateway: dict[str, Any],
) -> None:
    queue: StandIn = gateway["services"]["queue"]
    queue.seen.clear()
    answer = send_raw(
        gateway["base"],
        "POST",
        b"/api/v1/operator/media?client_id=x",
        headers=(SESSION,),
        body=b"v" * (256 * 1024),
    )
    assert answer.status == 200, answer
    check_request, upload = queue.seen
    assert (check_request.method, check_request.target) == (
        "GET",
        "/api/v1/operator/deliveries?limit=1",
    )
    assert check_request.received == 0
    assert (upload.method, upload.received) == ("POST", 256 * 1024)
    assert upload.target.startswith("/api/v1/operator/media")


def test_a_clients_session_on_an_operators_upload_is_a_403_problem_not_nginxs_page(
    gateway: dict[str, Any],
) -> None:
    """Issue 13: nginx answered its own HTML 403 to a client's cookie on the operator's
    upload (its session check refused it); every route answers problem+json."""
    answer = send_raw(
        gateway["base"],
        "POST",
        b"/api/v1/operator/media?client_id=x",
        headers=(CLIENT_ON_OPERATOR_ROUTE,),
        body=b"v" * 1024,
    )
    assert answer.status == 403, answer
    assert answer.headers["content-type"].startswith("application/problem+json"), answer
    assert answer.json() == _as_the_services_say(wrong_role("operator"))


def _as_the_services_say(problem: Problem) -> dict[str, Any]:
    """The problem document a service answers for ``problem`` (no ``instance``)."""
    body = {"type": problem.type, "title": problem.title, "status": problem.status}
    return {**body, "detail": problem.detail, **problem.extra}


def test_an_operators_session_on_a_clients_upload_is_the_services_wrong_role_problem(
    gateway: dict[str, Any],
) -> None:
    """fresh13e: an operator uploading on the client's route was told "This route is for
    operators" (the one 403 document nginx had); it says what the services say."""
    answer = send_raw(
        gateway["base"], "POST", b"/api/v1/media", headers=(OPERATOR_ON_CLIENT_ROUTE,), body=b"v"
    )
    assert answer.status == 403, answer
    assert answer.headers["content-type"].startswith("application/problem+json"), answer
    assert answer.json() == _as_the_services_say(wrong_role("client"))


def test_an_upload_whose_session_cannot_be_checked_is_a_503_to_retry(
    gateway: dict[str, Any],
) -> None:
    services: dict[str, StandIn] = gateway["services"]
    queue = services["queue"]
    queue.stop()
    try:
        answer = send_raw(
            gateway["base"],
            "POST",
            b"/api/v1/media",
            headers=(SESSION,),
            body=b"v",
            declared_length=4_000_000_000,
        )
    finally:
        services["queue"] = StandIn("queue", queue.port)
    assert answer.status == 503, answer
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["retry-after"].isdigit()
    assert answer.json()["status"] == 503


def test_after_refusing_a_forged_session_the_gateway_stops_taking_the_body(
    gateway: dict[str, Any],
) -> None:
    """The 401 comes back while the client is still sending, and the gateway
    hangs up within about a second (nginx reads and throws away a refused body
    until then; nginx's default would take 30 s of it).

    The client sends at most about 500 MB/s, faster than any link a gateway
    serves but slower than loopback: nginx checks its lingering time only
    between reads that find the socket empty, so a sender that keeps loopback
    full has its whole declared length discarded (4 GB in a few seconds) and
    the connection kept alive, which is nginx's rule for a body it finished
    reading, not a gateway that keeps taking a refused body."""
    port = int(gateway["base"].rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    name, value = FORGED_SESSION
    sock.sendall(
        b"POST /api/v1/media HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000000\r\n"
        + name
        + b": "
        + value
        + b"\r\n\r\n"
    )
    sock.setblocking(False)
    chunk = bytes(1 << 18)
    started = time.monotonic()
    sent, answer, answered_s, hung_up_s = 0, b"", None, None
    while time.monotonic() - started < 10:
        try:
            sent += sock.send(chunk)
            time.sleep(0.0005)
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            hung_up_s = time.monotonic() - started
            break
        try:
            answer += sock.recv(65536)
        except BlockingIOError:
            pass
        except OSError:
            hung_up_s = time.monotonic() - started
            break
        if answer and answered_s is None:
            answered_s = time.monotonic() - started
    sock.close()
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert answered_s is not None
    assert answered_s < 1.0
    assert hung_up_s is not None, f"still taking the body after {sent} bytes"
    assert hung_up_s < 3.0, (hung_up_s, sent)


def test_the_live_feed_streams_through_unbuffered_and_ends_when_the_client_goes(
    gateway: dict[str, Any],
) -> None:
    check_event_stream(gateway["base"], gateway["services"]["queue"])


def test_the_live_feeds_location_turns_buffering_off_and_outlasts_the_heartbeat() -> None:
    """nginx's own buffering would hold the events; its read timeout must exceed the
    queue's longest heartbeat (CACHALOT_LIVE_HEARTBEAT_S, at most 50 s)."""
    from cachalot_queue.settings import QueueSettings

    block = re.search(
        r"location ~ \^/api/v1/events\(\?:/\|\$\) \{(?P<body>[^}]*)\}", NGINX_CONF.read_text()
    )
    assert block is not None
    body = block.group("body")
    assert "proxy_buffering off;" in body
    assert "proxy_cache off;" in body
    timeout = re.search(r"proxy_read_timeout (\d+)s;", body)
    assert timeout is not None
    longest_heartbeat = QueueSettings.model_fields["live_heartbeat_s"].metadata
    le = next(m.le for m in longest_heartbeat if getattr(m, "le", None) is not None)
    assert int(timeout.group(1)) > le


# ---- issue 11 (A1): a trailing slash is a 404 problem, never a redirect, behind nginx too


@pytest.fixture(scope="module", params=MODES)
def gateway_to_real_services(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """nginx in front of the real contact, auth and queue apps (lifespan off: routing only)."""
    with tempfile.TemporaryDirectory(prefix="cachalot-slashes-") as tmp:
        with _no_cachalot_environment():
            apps = {name: build(Path(tmp)) for name, build in BUILDERS.items()}
        served = {name: ServedApp(app) for name, app in apps.items()}
        try:
            with running_nginx(request.param, served) as running:
                yield {**running, "apps": apps, "served": served}
        finally:
            for app in served.values():
                app.stop()


def _session(path: str) -> dict[str, str]:
    role: Role = "operator" if path.startswith("/api/v1/operator") else "client"
    token, _ = issue_session(
        client_id=uuid.uuid4(), secret="openapi-throwaway-secret", lifetime_s=600, role=role
    )
    return {COOKIE_NAME: token}


def test_a_contact_post_with_a_trailing_slash_is_a_404_problem_through_nginx(
    gateway_to_real_services: dict[str, Any],
) -> None:
    answer = httpx.post(
        gateway_to_real_services["base"] + "/api/v1/contact/",
        json={"name": "A", "contact": "a@example.com", "message": "hi"},
    )
    assert answer.status_code == 404
    assert "location" not in answer.headers
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_every_public_route_with_its_slash_toggled_is_a_404_problem_through_nginx(
    gateway_to_real_services: dict[str, Any],
) -> None:
    running = gateway_to_real_services
    internal = [app.address for app in running["served"].values()]
    walked = 0
    with httpx.Client(base_url=running["base"], follow_redirects=False, timeout=10) as client:
        for service, app in running["apps"].items():
            for request in slash_requests(app, prefix="/api/"):
                if service_for(request.as_written) != service:
                    continue
                if request.as_written.startswith((MEDIA_PREFIX, OPERATOR_MEDIA_PREFIX)):
                    # nginx asks the queue's live session check first (auth_request),
                    # which needs the queue's lifespan; the queue's own 404 for these
                    # is walked in embedded/tests/test_trailing_slashes.py. So for an
                    # operator's upload into a client's library (its own session check).
                    continue
                answer = send(client, request, request.toggled, _session(request.as_written))
                check_toggled(answer, request, internal)
                walked += 1
    assert walked >= 20
