"""publisher-youtube against real Tansu, PostgreSQL, the sandbox and its own process."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from cachalot_common.db import create_engine
from cachalot_testing.processes import ServiceProcess

from .conftest import CHUNK
from .harness import Commands, LeaseServer, Results, sha256_of

pytestmark = pytest.mark.integration

FIXTURE_MP4 = Path(__file__).parent.parent / "fixtures" / "clip.mp4"


@pytest.fixture(scope="module")
def publisher(start_publisher: Callable[[], ServiceProcess]) -> ServiceProcess:
    return start_publisher()


@pytest.fixture
def sandbox_http(sandbox: ServiceProcess, publisher: ServiceProcess) -> httpx.Client:
    client = httpx.Client(base_url=sandbox.base_url, timeout=10)
    client.delete("/sandbox/youtube/faults").raise_for_status()
    client.post(
        "/sandbox/youtube/quota", json={"daily_units": 1_000_000, "channel_daily_uploads": 1000}
    ).raise_for_status()
    return client


def arm(sandbox_http: httpx.Client, **fault: Any) -> None:
    sandbox_http.post("/sandbox/youtube/faults", json=fault).raise_for_status()


def landed(sandbox_http: httpx.Client, title: str) -> tuple[list[dict[str, Any]], int]:
    """Finished videos with this title, and how many sessions were opened for it."""
    body = sandbox_http.get("/sandbox/youtube/videos").json()
    videos = [v for v in body["videos"] if v["title"] == title]
    sessions = [s for s in body["sessions"] if s["title"] == title]
    return videos, len(sessions)


async def test_a_real_mp4_is_published_with_identical_bytes(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    media_dir: Path,
    publisher: ServiceProcess,
) -> None:
    video = media_dir / "clip.mp4"
    shutil.copyfile(FIXTURE_MP4, video)
    command = commands.command(video, title="Real clip", privacy_status="unlisted", tags=["t"])

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "published", result.reason
    assert result.remote_url == f"https://www.youtube.com/watch?v={result.remote_id}"
    videos, sessions = landed(sandbox_http, "Real clip")
    assert [(v["id"], v["sha256"], v["privacy_status"]) for v in videos] == [
        (result.remote_id, sha256_of(video), "unlisted")
    ]
    assert sessions == 1
    metrics = httpx.get(f"{publisher.base_url}/metrics", timeout=10).text
    assert 'cachalot_publisher_results_total{code="",platform="youtube",type="published"}' in (
        metrics
    )
    assert 'cachalot_publisher_attempt_seconds_count{platform="youtube"}' in metrics


async def test_a_connection_dropped_mid_chunk_resumes_from_the_reported_range(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(4 * CHUNK + 1234)
    arm(sandbox_http, kind="drop_mid_chunk", accept_bytes=CHUNK // 3)
    command = commands.command(video, title="Dropped once")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "published", result.reason
    videos, sessions = landed(sandbox_http, "Dropped once")
    assert [v["sha256"] for v in videos] == [sha256_of(video)]
    assert sessions == 1
    progress = [r.bytes_sent for r in results.for_target(command.target_id) if r.type == "progress"]
    # resumed at the reported byte, not at 0 (the dropped chunk's own bytes may show first)
    assert CHUNK // 3 + CHUNK in progress, progress
    assert 2 * CHUNK not in progress, progress


async def test_a_server_error_is_retried_and_then_succeeds(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(2 * CHUNK + 10)
    arm(sandbox_http, kind="server_error", status=503, times=2)
    command = commands.command(video, title="After a 503")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "published", result.reason
    videos, sessions = landed(sandbox_http, "After a 503")
    assert [v["sha256"] for v in videos] == [sha256_of(video)]
    assert sessions == 1


async def test_a_429_is_retried_after_its_retry_after_and_then_succeeds(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(CHUNK + 10)
    arm(sandbox_http, kind="rate_limit", retry_after_s=1, on="chunk")
    command = commands.command(video, title="After a 429")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "published", result.reason
    assert [v["sha256"] for v in landed(sandbox_http, "After a 429")[0]] == [sha256_of(video)]


async def test_quota_exceeded_comes_back_retryable_after_the_quota_resets(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    sandbox_http.post("/sandbox/youtube/quota", json={"daily_units": 1000}).raise_for_status()
    command = commands.command(random_video(1000), title="No quota left")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "retryable"
    assert result.code == "quota_exceeded"
    assert result.retry_after_s is not None
    assert result.retry_after_s >= 60
    assert "quota" in (result.reason or "")
    assert landed(sandbox_http, "No quota left") == ([], 0)


async def test_upload_limit_exceeded_comes_back_retryable_in_a_day(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    arm(sandbox_http, kind="upload_limit_exceeded")
    command = commands.command(random_video(1000), title="Channel cap")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "retryable"
    assert result.code == "upload_limit_exceeded"
    assert 24 * 3600 <= (result.retry_after_s or 0) < 24 * 3600 + 1  # to a whole second


async def test_a_401_refreshes_the_lease_once_and_the_upload_succeeds(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    lease_server: LeaseServer,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(2 * CHUNK)
    refreshes, leased = lease_server.force_refreshes, len(lease_server.grants)
    arm(sandbox_http, kind="unauthorized", on="chunk")
    command = commands.command(video, title="Token refreshed")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "published", result.reason
    assert lease_server.force_refreshes == refreshes + 1
    # the lease, the forced refresh and the confirmation before the last chunk
    assert lease_server.grants[leased:] == [command.grant] * 3, "every lease carries the grant"
    assert [v["sha256"] for v in landed(sandbox_http, "Token refreshed")[0]] == [sha256_of(video)]


async def test_a_second_401_after_the_refresh_asks_for_reauthorisation(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    arm(sandbox_http, kind="unauthorized", times=2)
    command = commands.command(random_video(1000), title="Token dead")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "failed"
    assert result.reauth_required is True
    assert "reconnect" in (result.reason or "").lower()


async def test_an_account_needing_reauth_at_auth_fails_with_reauth_required(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    lease_server: LeaseServer,
    random_video: Callable[[int], Path],
) -> None:
    command = commands.command(random_video(1000), title="Reauth at auth")
    lease_server.reauth_accounts.add(str(command.account_id))

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "failed"
    assert result.reauth_required is True
    assert landed(sandbox_http, "Reauth at auth") == ([], 0)


async def test_an_account_moved_to_another_client_during_the_upload_makes_no_video(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    lease_server: LeaseServer,
    random_video: Callable[[int], Path],
) -> None:
    """lease10: publisher-youtube never asked auth again before the chunk that makes the
    video (the other publishers confirm before their visible step), so an account moved to
    another client, or disconnected, while its upload ran got the video all the same."""
    command = commands.command(random_video(2 * CHUNK), title="Moved during the upload")
    # auth answers the command's lease, then refuses: the account changed hands meanwhile
    lease_server.refuse_from[str(command.account_id)] = (2, "not_owner")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type != "published", result
    assert landed(sandbox_http, "Moved during the upload")[0] == []


async def test_an_invalid_title_fails_with_youtubes_reason(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    command = commands.command(random_video(1000), title="a <script> title")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "failed"
    assert result.code == "invalidTitle"
    assert "title" in (result.reason or "")


async def test_a_redelivered_command_for_a_published_target_uploads_nothing_new(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    command = commands.command(random_video(CHUNK + 1), title="Only once")
    await commands.send(command)
    first = await results.wait(command.target_id, "published")

    await commands.send(command)

    again = await results.wait(command.target_id, "published", count=2)
    assert again.remote_id == first.remote_id
    videos, sessions = landed(sandbox_http, "Only once")
    assert len(videos) == 1
    assert sessions == 1


async def test_no_token_reaches_the_publishers_log(
    publisher: ServiceProcess,
    lease_server: LeaseServer,
    sandbox_http: httpx.Client,
) -> None:
    output = publisher.output()
    assert lease_server.issued, "the tests above leased tokens"
    for token in lease_server.issued:
        assert token not in output
    assert "upload_id=AEnB2U" not in output


async def test_an_expired_session_is_started_again_and_the_video_lands_once(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(3 * CHUNK + 5)
    arm(sandbox_http, kind="expire_session", on="chunk")
    command = commands.command(video, title="Session expired")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "published", result.reason
    videos, sessions = landed(sandbox_http, "Session expired")
    assert [v["sha256"] for v in videos] == [sha256_of(video)]
    assert sessions == 2


async def test_a_video_missing_from_the_media_store_fails_saying_so(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(1000)
    command = commands.command(video, title="Vanished")
    video.unlink()

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "failed"
    assert result.code == "media_missing"
    assert "missing" in (result.reason or "")
    assert landed(sandbox_http, "Vanished") == ([], 0)


async def test_a_429_with_a_long_retry_after_goes_back_to_the_queue_and_the_retry_resumes(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(2 * CHUNK + 7)
    arm(sandbox_http, kind="rate_limit", retry_after_s=120, on="chunk")
    command = commands.command(video, title="Long Retry-After")
    sent = time.monotonic()

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert (result.type, result.code) == ("retryable", "rate_limited")
    assert 120 <= (result.retry_after_s or 0) < 121, "YouTube's Retry-After, in full"
    assert time.monotonic() - sent < 20, "the wait went back to the queue, it was not slept"
    retry = command.model_copy(update={"attempt": 2})
    await commands.send(retry)
    published = await results.wait(command.target_id, "published")
    assert published.attempt == 2
    videos, sessions = landed(sandbox_http, "Long Retry-After")
    assert [v["sha256"] for v in videos] == [sha256_of(video)]
    assert sessions == 1, "the retry resumed the recorded session"


async def forget_video_id(database_url: str, target_id: uuid.UUID) -> None:
    """As if the process died after YouTube's final answer, before recording the video id."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("update youtube_uploads set video_id = null where target_id = :target"),
                {"target": str(target_id)},
            )
    finally:
        await engine.dispose()


async def test_a_finished_upload_whose_id_was_lost_is_found_not_uploaded_again_after_expiry(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    random_video: Callable[[int], Path],
    module_database: str,
) -> None:
    video = random_video(CHUNK + 3)
    command = commands.command(video, title="Finished, id lost")
    await commands.send(command)
    first = await results.wait(command.target_id, "published")
    await forget_video_id(module_database, command.target_id)
    sandbox_http.post("/sandbox/youtube/sessions/expire").raise_for_status()

    await commands.send(command.model_copy(update={"attempt": 2}))

    again = await results.wait(command.target_id, "published", "failed", "retryable", count=2)
    assert again.type == "published", again.reason
    assert again.remote_id == first.remote_id
    videos, sessions = landed(sandbox_http, "Finished, id lost")
    assert len(videos) == 1, "found on the channel, not uploaded a second time"
    assert sessions == 1
    await commands.send(command.model_copy(update={"attempt": 3}))
    third = await results.wait(command.target_id, "published", count=3)
    assert third.remote_id == first.remote_id, "the found id was recorded"
    assert landed(sandbox_http, "Finished, id lost") == (videos, 1)


async def test_without_a_reading_scope_a_finished_upload_whose_id_was_lost_ends_unknown_not_twice(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    lease_server: LeaseServer,
    random_video: Callable[[int], Path],
    module_database: str,
) -> None:
    """fresh11k (issue 11 item 8): a token without youtube.readonly cannot look the
    channel's uploads up, and the target whose video id was lost after its last chunk
    (session expired since) was uploaded a second time. It now ends unknown (the queue
    shows unconfirmed); only the client's "publish again", a later attempt, uploads."""
    video = random_video(CHUNK + 3)
    command = commands.command(video, title="Finished, id lost, upload scope only")
    lease_server.upload_only_accounts.add(str(command.account_id))
    await commands.send(command)
    first = await results.wait(command.target_id, "published")
    await forget_video_id(module_database, command.target_id)
    sandbox_http.post("/sandbox/youtube/sessions/expire").raise_for_status()

    await commands.send(command.model_copy(update={"attempt": 2}))
    again = await results.wait(
        command.target_id, "published", "failed", "retryable", "unknown", count=2
    )
    assert (again.type, again.code) == ("unknown", "outcome_unknown"), again.reason
    videos, sessions = landed(sandbox_http, "Finished, id lost, upload scope only")
    assert len(videos) == 1, "not uploaded a second time unasked"
    assert sessions == 1
    # the same attempt delivered again stays unknown
    await commands.send(command.model_copy(update={"attempt": 2}))
    repeat = await results.wait(command.target_id, "unknown", count=2)
    assert repeat.code == "outcome_unknown"
    # the client's "publish again" is a later attempt: it uploads
    await commands.send(command.model_copy(update={"attempt": 3}))
    third = await results.wait(command.target_id, "published", count=2)
    assert third.remote_id != first.remote_id
    assert len(landed(sandbox_http, "Finished, id lost, upload scope only")[0]) == 2


async def test_without_a_reading_scope_an_expired_session_is_started_again(
    sandbox_http: httpx.Client,
    commands: Commands,
    results: Results,
    lease_server: LeaseServer,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(3 * CHUNK + 5)
    command = commands.command(video, title="Upload scope only")
    lease_server.upload_only_accounts.add(str(command.account_id))
    arm(sandbox_http, kind="expire_session", on="chunk")

    await commands.send(command)

    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert result.type == "published", result.reason
    videos, sessions = landed(sandbox_http, "Upload scope only")
    assert [v["sha256"] for v in videos] == [sha256_of(video)]
    assert sessions == 2
