"""A real queue process refuses large or anonymous bodies before reading them (issue 8, item 5).

The body is sent over a raw socket, so the test sees the answer arrive while
the server is still owed most of the body, and the process's resident memory
is read from ``/proc`` before and after.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from queue_support import SECRET

from cachalot_common.guards import DEFAULT_MAX_BODY_BYTES
from cachalot_common.sessions import COOKIE_NAME, issue_session
from cachalot_testing.bodies import rss_bytes, send_body
from cachalot_testing.processes import ServiceProcess

pytestmark = pytest.mark.integration

EIGHTY_MB = 80 * 1024 * 1024
JSON = {"Content-Type": "application/json"}
MAX_GROWTH_BYTES = 16 * 1024 * 1024


@pytest.fixture(scope="module")
def queue_process(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str, kafka_idempotence: bool
) -> Iterator[ServiceProcess]:
    root = tmp_path_factory.mktemp("queue-guards")
    service = ServiceProcess(
        "cachalot_queue",
        env={
            "CACHALOT_DATABASE_URL": f"sqlite+aiosqlite:///{root / 'queue.db'}",
            "CACHALOT_SESSION_SECRET": SECRET,
            "CACHALOT_MEDIA_DIR": str(root / "media"),
            "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
            "CACHALOT_KAFKA_IDEMPOTENCE": str(kafka_idempotence).lower(),
            "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": "2000",
            "CACHALOT_CONSUMER_GROUP": f"queue-guards-{uuid.uuid4().hex[:8]}",
        },
        log_path=Path(root / "queue.log"),
    )
    service.start(timeout=90)
    yield service
    service.stop()


def _cookie() -> str:
    token, _ = issue_session(client_id=uuid.uuid4(), secret=SECRET, lifetime_s=600)
    return f"{COOKIE_NAME}={token}"


def _rss(service: ServiceProcess) -> int:
    assert service.pid is not None
    return rss_bytes(service.pid)


def test_an_80_mb_json_body_without_a_session_is_answered_401_before_it_is_read(
    queue_process: ServiceProcess,
) -> None:
    early = send_body(
        queue_process.base_url,
        "/api/v1/posts",
        headers=JSON,
        declared_bytes=EIGHTY_MB,
        send_bytes=1024 * 1024,
    )
    assert early.status == 401, early.head
    before = _rss(queue_process)
    whole = send_body(
        queue_process.base_url,
        "/api/v1/posts",
        headers=JSON,
        declared_bytes=EIGHTY_MB,
        send_bytes=EIGHTY_MB,
    )
    assert whole.status == 401, whole.head
    assert _rss(queue_process) - before < MAX_GROWTH_BYTES


def test_a_json_body_declared_over_the_cap_is_answered_413_before_it_is_read(
    queue_process: ServiceProcess,
) -> None:
    early = send_body(
        queue_process.base_url,
        "/api/v1/posts",
        headers={**JSON, "Cookie": _cookie()},
        declared_bytes=EIGHTY_MB,
        send_bytes=1024 * 1024,
    )
    assert early.status == 413, early.head
    assert b"application/problem+json" in early.head


def test_a_chunked_json_body_is_answered_413_once_it_passes_the_cap(
    queue_process: ServiceProcess,
) -> None:
    before = _rss(queue_process)
    streamed = send_body(
        queue_process.base_url,
        "/api/v1/posts",
        headers={**JSON, "Cookie": _cookie()},
        declared_bytes=None,
        send_bytes=EIGHTY_MB,
    )
    assert streamed.status == 413, streamed.head
    assert _rss(queue_process) - before < MAX_GROWTH_BYTES
    assert DEFAULT_MAX_BODY_BYTES < 1024 * 1024  # the cap is what stopped it, far below 80 MB
