"""publisher-youtube on the shared runtime: one account's long upload never holds another
account's post (sandbox YouTube, real Tansu, PostgreSQL, the publisher as a process)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cachalot_testing.processes import ServiceProcess

from .conftest import CHUNK
from .harness import Commands, Results, sha256_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

THROTTLE_BPS = 512 * 1024  # the sandbox's upload speed: 64 chunks of 256 KiB take 32 s


@pytest.fixture
def sandbox_http(
    sandbox: ServiceProcess, start_publisher: Callable[[], ServiceProcess]
) -> Iterator[httpx.Client]:
    start_publisher()
    client = httpx.Client(base_url=sandbox.base_url, timeout=10)
    client.delete("/sandbox/youtube/faults").raise_for_status()
    client.post(
        "/sandbox/youtube/quota", json={"daily_units": 1_000_000, "channel_daily_uploads": 1000}
    ).raise_for_status()
    yield client
    client.delete("/sandbox/youtube/faults").raise_for_status()
    client.close()


def session_of(sandbox_http: httpx.Client, title: str) -> dict[str, float]:
    body = sandbox_http.get("/sandbox/youtube/videos").json()
    (session,) = [s for s in body["sessions"] if s["title"] == title]
    return dict(session)


async def test_a_small_post_is_published_within_two_seconds_during_another_accounts_long_upload(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    sandbox_http.post(
        "/sandbox/youtube/faults", json={"kind": "slow", "bytes_per_second": THROTTLE_BPS}
    ).raise_for_status()
    large = random_video(64 * CHUNK)
    slow = commands.command(large, title="Account A, large")
    await commands.send(slow)
    await results.wait(slow.target_id, "progress", timeout=60)  # A's bytes are flowing

    quick = commands.command(random_video(8 * 1024), title="Account B, small")
    assert quick.account_id != slow.account_id
    sent = time.monotonic()
    await commands.send(quick)
    result = await results.wait(quick.target_id, "published", "failed", "retryable", timeout=30)
    delay = time.monotonic() - sent

    assert result.type == "published", result.reason
    assert delay < 2.0, f"B waited {delay:.1f} s behind A's upload"
    assert not [r for r in results.for_target(slow.target_id) if r.type != "progress"], (
        "A was still uploading when B was published"
    )
    final = await results.wait(slow.target_id, "published", "failed", "retryable", timeout=120)
    assert final.type == "published", final.reason
    a = session_of(sandbox_http, "Account A, large")
    assert a["completed_at"] - a["first_byte_at"] >= 30, "the sandbox throttled A to ≥ 30 s"
    videos = sandbox_http.get("/sandbox/youtube/videos").json()["videos"]
    assert [v["sha256"] for v in videos if v["title"] == "Account A, large"] == [sha256_of(large)]
