"""The gateway's nginx.conf, run by a real nginx in front of stand-in services.

The upstream host names are swapped for local stand-ins (one per service,
each recording what reaches it and answering with its own name), the listen
port for a free one; everything else is the committed configuration. The
request table (``cachalot_testing.gateway.CASES``) is the one the embedded
gateway is tested with. Skipped where nginx is not installed
(`apt-get install nginx-light`).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_embedded.routes import ROUTES
from cachalot_testing.gateway import (
    CASES,
    SESSION,
    Case,
    StandIn,
    case_id,
    check,
    check_service_down,
)
from cachalot_testing.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
NGINX_CONF = ROOT / "deploy" / "gateway" / "nginx.conf"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")


@pytest.fixture(scope="module")
def gateway() -> Iterator[dict[str, Any]]:
    assert NGINX is not None
    # nginx's workers run as nobody when the tests run as root: their temp
    # dirs must be reachable, so not under pytest's private (0700) tmp tree.
    workdir = Path(tempfile.mkdtemp(prefix="cachalot-gateway-"))
    workdir.chmod(0o755)
    services = {name: StandIn(name) for name in {service for _, service in ROUTES}}
    port = free_port()
    conf = NGINX_CONF.read_text()
    conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("pid /tmp/nginx.pid;", f"pid {workdir}/nginx.pid;")
    conf = re.sub(r"_temp_path /tmp/", f"_temp_path {workdir}/", conf)
    conf = conf.replace(
        "access_log /dev/stdout cachalot;", f"access_log {workdir}/access.log cachalot;"
    )
    # A copy of web/: the checkout may sit where nobody cannot read.
    shutil.copytree(ROOT / "web", workdir / "html")
    for path in [workdir / "html", *(workdir / "html").rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    conf = conf.replace("root /usr/share/nginx/html;", f"root {workdir / 'html'};")
    conf, count = re.subn(
        r"set \$cachalot_upstream ([\w-]+):\d+;",
        lambda m: f"set $cachalot_upstream 127.0.0.1:{services[m.group(1)].port};",
        conf,
    )
    assert count == len(ROUTES)
    if not Path("/etc/nginx/mime.types").exists():
        conf = conf.replace("include /etc/nginx/mime.types;", "types { text/html html; }")
    (workdir / "nginx.conf").write_text(conf)
    process = subprocess.Popen(
        [NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "error.log").open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.TransportError:
            assert process.poll() is None, (workdir / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
    try:
        yield {"base": base, "services": services, "workdir": workdir}
    finally:
        process.terminate()
        process.wait(timeout=10)
        for server in services.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


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
        gateway["base"] + "/api/v1/contact", headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert answer.json()["x_forwarded_for"] == "127.0.0.1"


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
        gateway["base"] + "/api/v1/posts", content=b"x" * size, headers=[SESSION], timeout=30
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


def test_a_service_that_is_down_answers_503_problem_with_retry_after(
    gateway: dict[str, Any],
) -> None:
    check_service_down(gateway["base"], gateway["services"])
