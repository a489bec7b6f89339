"""The embedded gateway: routes the public API only, streams, and keeps nobody's cookies.

The request table (``cachalot_testing.gateway.CASES``) is the one the nginx
gateway of compose is tested with (deploy/tests/test_gateway_nginx.py), in
front of the same stand-in services.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from cachalot_embedded.gateway import create_gateway
from cachalot_embedded.main import gateway_config, held_port
from cachalot_embedded.openapi import DOCUMENT_FILE
from cachalot_embedded.routes import BadPath, normalise_path, service_for
from cachalot_testing.gateway import (
    CASES,
    EMBEDDED_CASES,
    FORGED_SESSION,
    SERVICES,
    SESSION,
    STALL,
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
from cachalot_testing.ports import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]


class Gateway:
    def __init__(self, timeout_s: float = 60.0) -> None:
        self.stand_ins = {name: StandIn(name) for name in SERVICES}
        upstreams = {name: s.url for name, s in self.stand_ins.items()}
        self.port = free_port()
        self.server = uvicorn.Server(
            gateway_config(
                create_gateway(
                    upstreams,
                    web_dir=ROOT / "web",
                    openapi_file=DOCUMENT_FILE,
                    timeout_s=timeout_s,
                ),
                self.port,
            )
        )
        threading.Thread(target=self.server.run, daemon=True).start()
        wait_for_port(self.port)
        self.base = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        for stand_in in self.stand_ins.values():
            stand_in.stop()


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    running = Gateway()
    yield running
    running.stop()


@pytest.mark.parametrize("case", CASES + EMBEDDED_CASES, ids=case_id)
def test_the_gateway_answers_each_request_as_the_nginx_gateway_does(
    case: Case, gateway: Gateway
) -> None:
    check(case, gateway.base, gateway.stand_ins)


def test_a_service_that_is_down_answers_503_problem_with_retry_after(gateway: Gateway) -> None:
    check_service_down(gateway.base, gateway.stand_ins)


def test_routes_map_public_paths_to_their_services() -> None:
    assert service_for("/api/v1/contact") == "contact"
    assert service_for("/api/v1/auth/tiktok/login") == "auth"
    assert service_for("/api/v1/me/export") == "auth"
    assert service_for("/api/v1/media") == "queue"
    assert service_for("/api/v1/posts/1/cancel") == "queue"
    assert service_for("/api/v1/mediator") is None
    assert service_for("/internal/v1/accounts/1/lease") is None


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b"/", "/"),
        (b"/api/v1/me/..", "/api/v1/"),
        (b"/api/v1/me/.", "/api/v1/me/"),
        (b"/api//v1///me", "/api/v1/me"),
        (b"/api/v1/me/%2e%2E/posts", "/api/v1/posts"),
        (b"/api/v1/posts/caf%C3%A9", "/api/v1/posts/café"),
    ],
)
def test_paths_are_normalised_as_nginx_normalises_them(raw: bytes, path: str) -> None:
    assert normalise_path(raw)[0] == path


@pytest.mark.parametrize(
    "raw", [b"/a%2fb", b"/a%5Cb", b"/a\\b", b"/a%7f", b"/a\x01", b"/a%zz", b"/..", b"a/b"]
)
def test_paths_the_gateway_cannot_read_one_way_only_are_refused(raw: bytes) -> None:
    with pytest.raises(BadPath):
        normalise_path(raw)


def test_one_persons_cookie_is_never_sent_with_anothers_request(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.base) as ann, httpx.Client(base_url=gateway.base) as bob:
        login = ann.get("/api/v1/auth/tiktok/callback?set_cookie=ann")
        assert login.status_code == 200
        assert len(login.headers.get_list("set-cookie")) == 2
        assert ann.get("/api/v1/me").json()["cookie"] == "cachalot_session=ann; other=x"
        assert bob.get("/api/v1/me").status_code == 401  # no cookie: the gateway's own answer
        assert bob.get("/api/v1/contact").json()["cookie"] is None


def test_an_answer_through_the_gateway_carries_one_date_and_one_server_header(
    gateway: Gateway,
) -> None:
    answer = httpx.get(f"{gateway.base}/api/v1/contact")
    assert answer.status_code == 200
    assert len(answer.headers.get_list("date")) == 1
    assert len(answer.headers.get_list("server")) <= 1


def test_forwarded_for_from_an_outsider_is_replaced(gateway: Gateway) -> None:
    seen = httpx.get(
        f"{gateway.base}/api/v1/contact", headers={"X-Forwarded-For": "6.6.6.6"}
    ).json()
    assert seen["x_forwarded_for"] == "127.0.0.1"


def test_video_uploads_stream_through(gateway: Gateway) -> None:
    queue = gateway.stand_ins["queue"]
    queue.first_bytes.clear()
    streamed_before_the_end: list[bool] = []

    def body() -> Iterator[bytes]:
        yield b"x" * 65536
        streamed_before_the_end.append(queue.first_bytes.wait(timeout=5))
        for _ in range(63):
            yield b"x" * 65536

    answer = httpx.post(
        f"{gateway.base}/api/v1/media", content=body(), headers=[SESSION], timeout=30
    )
    assert answer.json()["received"] == 64 * 65536
    assert streamed_before_the_end == [True]


def test_after_a_services_early_answer_the_gateway_stops_taking_the_body(
    gateway: Gateway,
) -> None:
    """A forged session on a declared 4 GB upload: the 401 comes back while the
    client is still sending, and the gateway reads no more of the body."""
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=5)
    name, value = FORGED_SESSION
    sock.sendall(
        b"POST /api/v1/media HTTP/1.1\r\nHost: x\r\nContent-Length: 4000000000\r\n"
        + name
        + b": "
        + value
        + b"\r\n\r\n"
    )
    sock.setblocking(False)
    started = time.monotonic()
    sent, answer, answered_s = 0, b"", None
    while time.monotonic() - started < 3:
        try:
            sent += sock.send(bytes(1 << 20))
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            break  # the gateway hung up
        try:
            answer += sock.recv(65536)
        except BlockingIOError:
            pass
        except OSError:
            break
        if answer and answered_s is None:
            answered_s = time.monotonic() - started
    sock.close()
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert answered_s is not None
    assert answered_s < 1.0
    # Only what the sockets' buffers hold: the gateway no longer reads, so
    # 3 s on loopback are not gigabytes.
    assert sent < 64 * 1024**2, sent


@pytest.fixture(scope="module")
def impatient_gateway() -> Iterator[Gateway]:
    running = Gateway(timeout_s=1.0)
    yield running
    running.stop()


@pytest.mark.parametrize(
    ("why", "body"),
    [("it answers nothing", b""), ("it reads no more of an upload", b"v" * (128 * 1024**2))],
)
def test_a_service_that_hangs_is_a_504_with_retry_after_when_the_timeout_passes(
    impatient_gateway: Gateway, why: str, body: bytes
) -> None:
    started = time.monotonic()
    answer = send_raw(
        impatient_gateway.base,
        "POST",
        b"/api/v1/media",
        headers=(SESSION, (STALL.encode(), b"4")),
        body=body,
        timeout_s=10,
    )
    took_s = time.monotonic() - started
    assert answer.status == 504, (why, answer)
    assert answer.headers["retry-after"].isdigit()
    assert answer.json()["title"] == "Gateway Timeout"
    assert took_s < 3.5, (why, took_s)


def test_a_connection_left_idle_as_long_as_a_client_keeps_one_is_still_served(
    gateway: Gateway,
) -> None:
    # httpx keeps an idle connection 5 s and then reuses it: a gateway that closed it at
    # 5 s too (uvicorn's default) made the client's next request fail with ReadError
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        connection.request("GET", "/healthz")
        first = connection.getresponse()
        first.read()
        kept = connection.sock
        assert first.status == 200
        assert kept is not None
        time.sleep(5.5)  # the idle time itself is what is tested
        connection.request("GET", "/healthz")  # RemoteDisconnected had the gateway closed it
        assert connection.getresponse().status == 200
        assert connection.sock is kept
    finally:
        connection.close()


def test_the_dashboard_and_the_gateways_health_are_served(gateway: Gateway) -> None:
    answer = httpx.get(f"{gateway.base}/")
    assert answer.status_code == 200
    assert answer.text == (ROOT / "web" / "index.html").read_text()
    assert httpx.get(f"{gateway.base}/contact.html").status_code == 200
    assert httpx.get(f"{gateway.base}/healthz").json() == {"status": "ok"}


def test_the_openapi_document_is_served_to_anyone_as_nginx_serves_it(gateway: Gateway) -> None:
    check_openapi(gateway.base, gateway.stand_ins, DOCUMENT_FILE.read_bytes())


def test_the_api_docs_page_is_served_to_anyone_with_its_vendored_assets_as_nginx_serves_it(
    gateway: Gateway,
) -> None:
    check_api_docs(gateway.base, gateway.stand_ins)


def test_the_live_feed_streams_through_unbuffered_and_ends_when_the_client_goes(
    gateway: Gateway,
) -> None:
    check_event_stream(gateway.base, gateway.stand_ins["queue"])


def test_the_gateways_read_timeout_outlasts_the_live_feeds_heartbeat() -> None:
    """A stream is kept while the queue writes at least every CACHALOT_LIVE_HEARTBEAT_S."""
    import inspect

    from cachalot_embedded.gateway import TIMEOUT_S
    from cachalot_queue.settings import QueueSettings

    metadata = QueueSettings.model_fields["live_heartbeat_s"].metadata
    longest = next(m.le for m in metadata if getattr(m, "le", None) is not None)
    assert longest < TIMEOUT_S
    assert inspect.signature(create_gateway).parameters["timeout_s"].default == TIMEOUT_S


def test_with_tracing_each_api_request_is_a_gateway_span_the_service_continues() -> None:
    """`make dev TRACES=1`: the gateway's span joins the caller's trace and the service gets
    the gateway span's context (issue 13 item 4); the dashboard's files are not traced."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    stand_in = StandIn("contact")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_gateway(
                {"contact": stand_in.url}, web_dir=ROOT / "web", tracer_provider=provider
            ),
            host="127.0.0.1",
            port=port,
            log_config=None,
        )
    )
    threading.Thread(target=server.run, daemon=True).start()
    wait_for_port(port)
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/contact",
            json={"name": "Ann"},
            headers={"traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01"},
            timeout=10,
        )
        assert answer.status_code < 500
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 200
    finally:
        server.should_exit = True
        stand_in.stop()
    [seen] = stand_in.seen
    [traceparent] = [v.decode() for k, v in seen.headers if k.lower() == "traceparent"]
    [span] = exporter.get_finished_spans()  # the page was not traced
    assert span.context is not None
    assert span.name.startswith("POST /api/v1/contact")
    assert f"{span.context.trace_id:032x}" == caller_trace
    assert traceparent == f"00-{caller_trace}-{span.context.span_id:016x}-01"


def test_the_gateways_port_is_held_from_the_moment_it_is_chosen_until_it_serves() -> None:
    """``cachalot-dev --free-ports`` chose the gateway's port at the start and bound it
    minutes later; a process that took it meanwhile stopped the stack (Errno 98). Held
    (:func:`cachalot_embedded.main.held_port`), nobody else can bind it, and the gateway
    serves on the very socket."""
    port = free_port()
    held = held_port(port)
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        with pytest.raises(OSError):
            other.bind(("127.0.0.1", port))
    server = uvicorn.Server(gateway_config(create_gateway({}, web_dir=None), port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [held]}, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)
        held.close()
