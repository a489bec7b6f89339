"""``python -m cachalot_queue`` runs as a real process, as it does in production."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from queue_support import SECRET

from cachalot_testing.processes import ServiceProcess

pytestmark = pytest.mark.integration


def test_a_missing_session_secret_stops_the_service_with_one_line_naming_it(
    tmp_path: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "cachalot_queue"],
        env={
            "PATH": "/usr/bin:/bin",
            "CACHALOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/q.db",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "CACHALOT_SESSION_SECRET" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_the_service_migrates_serves_probes_and_keeps_its_secret_out_of_logs(
    tmp_path: Path, kafka_bootstrap: str, kafka_idempotence: bool
) -> None:
    env = {
        "CACHALOT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/queue.db",
        "CACHALOT_SESSION_SECRET": SECRET,
        "CACHALOT_MEDIA_DIR": str(tmp_path / "media"),
        "CACHALOT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "CACHALOT_KAFKA_IDEMPOTENCE": str(kafka_idempotence).lower(),
        "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": "2000",
        "CACHALOT_CONSUMER_GROUP": f"queue-process-{tmp_path.name}",
    }
    migrate = subprocess.run(
        [sys.executable, "-m", "cachalot_queue", "migrate"],
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stderr
    service = ServiceProcess("cachalot_queue", env=env, log_path=tmp_path / "queue.log")
    service.start(timeout=90)
    try:
        service.wait_healthy(path="/readyz", timeout=60)
        ready = httpx.get(service.base_url + "/readyz").json()
        assert ready["checks"] == {
            "database": "ok",
            "broker": "ok",
            "consumers": "ok",
            "live": "ok",
        }
        refused = httpx.get(service.base_url + "/api/v1/posts")
        assert refused.status_code == 401
        assert (tmp_path / "media").is_dir()
    finally:
        # a graceful stop: uvicorn finishes, then re-raises the SIGTERM it caught
        assert service.stop() in (0, -15)
    assert SECRET not in service.output()
