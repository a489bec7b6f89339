"""Through the embedded gateway, the queue's early refusals arrive at once (issue 8, items 5 and 8).

The queue refuses a forged session (401) and a declared size over its cap
(413) from the headers alone. The gateway forwards the declared
Content-Length and relays such an answer while the client is still sending,
then stops taking the body; before, it re-sent the body chunked and wrote it
all before reading the answer, so the client heard nothing.
"""

from __future__ import annotations

import contextlib
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

from cachalot_common.sessions import COOKIE_NAME
from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

VIDEO = video_file()
USER = "-000sandboxBobOpenId"  # uploads nothing: every upload here is refused


def _session(stack: EmbeddedStack) -> str:
    with httpx.Client(timeout=30) as http:
        start = http.get(f"{stack.gateway}/api/v1/auth/tiktok/login", params={"next": "/"})
        assert start.status_code == 302, start.text
        consent_url = httpx.URL(start.headers["location"]).copy_merge_params(
            {"sandbox_auto": "allow", "sandbox_user": USER}
        )
        consent = http.get(consent_url)
        callback = http.get(consent.headers["location"])
        assert callback.status_code == 302, callback.text
        cookie = http.cookies.get(COOKIE_NAME)
        assert cookie
        return cookie


def _upload_declaring(
    base: str, declared: int, cookie: str, keep_sending_s: float
) -> tuple[bytes, float, int]:
    """Declare ``declared`` bytes, send the sample video, then zeros until an answer.

    Returns the answer's first bytes, the seconds it took, and the bytes sent.
    """
    split = urlsplit(base)
    assert split.hostname
    assert split.port
    sock = socket.create_connection((split.hostname, split.port), timeout=5)
    sock.sendall(
        b"POST /api/v1/media HTTP/1.1\r\nHost: %s\r\nContent-Type: video/mp4\r\n"
        b"Content-Length: %d\r\nCookie: %s=%s\r\n\r\n"
        % (split.netloc.encode(), declared, COOKIE_NAME.encode(), cookie.encode())
        + VIDEO.read_bytes()
    )
    sock.setblocking(False)
    started = time.monotonic()
    sent, answer = 0, b""
    while time.monotonic() - started < keep_sending_s and b"\r\n\r\n" not in answer:
        try:
            sent += sock.send(bytes(1 << 20))
        except BlockingIOError:
            time.sleep(0.001)
        except OSError:
            break
        try:
            answer += sock.recv(65536)
        except BlockingIOError:
            pass
        except OSError:
            break
    took = time.monotonic() - started
    sock.setblocking(True)
    sock.settimeout(2)
    with contextlib.suppress(OSError):
        answer += sock.recv(65536)
    sock.close()
    return answer, took, sent


def test_a_declared_upload_over_the_queues_cap_is_refused_through_the_gateway_at_once(
    stack: EmbeddedStack,
) -> None:
    answer, took, _ = _upload_declaring(stack.gateway, 4_500_000_000, _session(stack), 5)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
    assert took < 1.0, took
    assert b"application/problem+json" in answer


def test_a_forged_session_on_a_4_gb_upload_is_refused_through_the_gateway_at_once(
    stack: EmbeddedStack,
) -> None:
    answer, took, sent = _upload_declaring(stack.gateway, 4_000_000_000, "forged", 5)
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:300]
    assert took < 1.0, took
    assert sent < 256 * 1024**2, sent
