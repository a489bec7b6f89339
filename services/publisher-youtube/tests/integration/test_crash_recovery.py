"""kill -9 in the middle of an upload, then a restart: one complete video, not two."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cachalot_testing.processes import ServiceProcess

from .conftest import CHUNK
from .harness import Commands, Results, sha256_of

pytestmark = pytest.mark.integration


async def test_a_publisher_killed_mid_upload_resumes_after_restart_and_posts_once(
    sandbox: ServiceProcess,
    start_publisher: Callable[[], ServiceProcess],
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    first = start_publisher()
    http = httpx.Client(base_url=sandbox.base_url, timeout=10)
    http.post("/sandbox/youtube/faults", json={"kind": "slow", "bytes_per_second": 256 * 1024})
    video = random_video(12 * CHUNK + 4321)
    command = commands.command(video, title="Survives kill -9")

    await commands.send(command)
    await results.wait(command.target_id, "progress", timeout=180, count=2)
    first.kill()
    http.delete("/sandbox/youtube/faults").raise_for_status()
    sent_before_kill = max(
        r.bytes_sent or 0 for r in results.for_target(command.target_id) if r.type == "progress"
    )
    start_publisher()

    result = await results.wait(command.target_id, "published", "failed", "retryable", timeout=180)
    assert result.type == "published", result.reason
    body = http.get("/sandbox/youtube/videos").json()
    videos = [v for v in body["videos"] if v["title"] == "Survives kill -9"]
    sessions = [s for s in body["sessions"] if s["title"] == "Survives kill -9"]
    assert [v["sha256"] for v in videos] == [sha256_of(video)]
    assert len(sessions) == 1  # the restart resumed the recorded session
    after_restart = [
        r.bytes_sent or 0
        for r in results.for_target(command.target_id)
        if r.type == "progress" and (r.bytes_sent or 0) > sent_before_kill
    ]
    assert after_restart, "the restarted publisher went on from where YouTube stood"
