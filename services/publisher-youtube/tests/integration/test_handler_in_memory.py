"""The real publisher-youtube, its subscriber driven in memory, against the real sandbox.

``create_app`` builds the whole service (SQLite database, auth's lease endpoint over
HTTP: the conftest's stand-in, YouTube over HTTP: the sandbox process); FastStream's
``TestKafkaBroker`` stands in for Kafka only, so the handler registered when the app
is built takes each command and its results come out on ``posts.result.v1`` in memory.
The same behaviour against real Tansu and a real process: ``test_publishing.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_publisher_youtube.main import create_app
from cachalot_publisher_youtube.settings import Settings
from cachalot_testing.processes import ServiceProcess
from cachalot_testing.publisher import InMemoryPublisher, in_memory, in_memory_settings

from .conftest import CHUNK
from .harness import SERVICE, SERVICE_SECRET, Commands, LeaseServer, sha256_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FIXTURE_MP4 = Path(__file__).parent.parent / "fixtures" / "clip.mp4"


def settings(
    sandbox: ServiceProcess, lease_server: LeaseServer, media_dir: Path, **overrides: Any
) -> Settings:
    """publisher-youtube's settings for one test: its own SQLite file, the sandbox YouTube,
    the lease stand-in, a Kafka nobody dials (TestKafkaBroker stands in for it)."""
    values = in_memory_settings(
        service=SERVICE,
        secret=SERVICE_SECRET,
        auth_url=lease_server.url,
        media_dir=media_dir,
        youtube_api_base=f"{sandbox.base_url}/youtube",
        youtube_chunk_bytes=CHUNK,
        youtube_backoff_initial_s=0.05,
        youtube_backoff_max_s=0.2,
        **overrides,
    )
    return Settings(**values)


@contextlib.asynccontextmanager
async def running(
    sandbox: ServiceProcess, lease_server: LeaseServer, media_dir: Path, **overrides: Any
) -> AsyncIterator[InMemoryPublisher]:
    """The real app (``create_app``, no replaced parts), started, its broker in memory."""
    app = create_app(settings(sandbox, lease_server, media_dir, **overrides))
    async with in_memory(app, "youtube") as publisher:
        yield publisher


@pytest.fixture
def youtube(sandbox: ServiceProcess, lease_server: LeaseServer) -> Iterator[httpx.Client]:
    """The sandbox's controls, everything forgotten for this test, quota to spare."""
    with httpx.Client(base_url=sandbox.base_url, timeout=30) as client:
        client.post("/sandbox/reset").raise_for_status()
        lease_server.reset()
        client.post(
            "/sandbox/youtube/quota",
            json={"daily_units": 1_000_000, "channel_daily_uploads": 1000},
        ).raise_for_status()
        yield client


@pytest.fixture
async def publisher(
    sandbox: ServiceProcess, lease_server: LeaseServer, media_dir: Path, youtube: httpx.Client
) -> AsyncIterator[InMemoryPublisher]:
    async with running(sandbox, lease_server, media_dir) as started:
        yield started


@pytest.fixture
def commands(media_dir: Path) -> Commands:
    """Only the command factory (nothing goes to Kafka through it)."""
    return Commands("127.0.0.1:1", False, media_dir)


def arm(youtube: httpx.Client, **fault: Any) -> None:
    youtube.post("/sandbox/youtube/faults", json=fault).raise_for_status()


def landed(youtube: httpx.Client) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every finished video on the sandbox, and every upload session opened."""
    body = youtube.get("/sandbox/youtube/videos").json()
    return list(body["videos"]), list(body["sessions"])


async def test_a_command_is_uploaded_to_youtube_once_and_one_published_result_comes_out(
    publisher: InMemoryPublisher, youtube: httpx.Client, commands: Commands, media_dir: Path
) -> None:
    video = media_dir / f"{uuid.uuid4().hex}.mp4"
    shutil.copyfile(FIXTURE_MP4, video)
    command = commands.command(video, title="In memory", privacy_status="unlisted")
    await publisher.send(command)
    result = await publisher.final(command.target_id)
    assert (result.type, result.attempt) == ("published", 1), result
    assert result.remote_url == f"https://www.youtube.com/watch?v={result.remote_id}"
    assert len(publisher.finals(command.target_id)) == 1
    videos, sessions = landed(youtube)
    assert [(v["id"], v["sha256"], v["title"]) for v in videos] == [
        (result.remote_id, sha256_of(video), "In memory")
    ]
    assert len(sessions) == 1


async def test_youtubes_429_with_a_long_retry_after_comes_back_retryable_in_full_not_slept(
    publisher: InMemoryPublisher,
    youtube: httpx.Client,
    commands: Commands,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(2 * CHUNK + 7)
    arm(youtube, kind="rate_limit", retry_after_s=120, on="chunk")
    command = commands.command(video)
    sent = time.monotonic()
    await publisher.send(command)
    result = await publisher.final(command.target_id)
    assert (result.type, result.code) == ("retryable", "rate_limited"), result
    assert 120 <= (result.retry_after_s or 0) < 121, "YouTube's Retry-After, in full"
    assert time.monotonic() - sent < 5, "the wait went back to the queue, it was not slept"
    assert len(publisher.finals(command.target_id)) == 1

    await publisher.send(command.model_copy(update={"attempt": 2}))  # the queue's retry
    retried = await publisher.final(command.target_id, count=2)
    assert (retried.type, retried.attempt) == ("published", 2), retried
    videos, sessions = landed(youtube)
    assert [v["sha256"] for v in videos] == [sha256_of(video)]
    assert len(sessions) == 1, "the retry resumed the recorded session"


async def test_a_429_on_opening_the_session_is_retryable_and_opens_nothing(
    publisher: InMemoryPublisher,
    youtube: httpx.Client,
    commands: Commands,
    random_video: Callable[[int], Path],
) -> None:
    arm(youtube, kind="rate_limit", retry_after_s=300, on="insert")
    command = commands.command(random_video(CHUNK))
    await publisher.send(command)
    result = await publisher.final(command.target_id)
    assert (result.type, result.code) == ("retryable", "rate_limited"), result
    assert 300 <= (result.retry_after_s or 0) < 301
    assert landed(youtube) == ([], [])


async def test_the_same_command_delivered_twice_uploads_once_and_answers_published_twice(
    publisher: InMemoryPublisher,
    youtube: httpx.Client,
    commands: Commands,
    random_video: Callable[[int], Path],
) -> None:
    video = random_video(CHUNK + 1)
    command = commands.command(video)
    await publisher.send(command)
    await publisher.send(command)  # Kafka delivers a record again after a lost commit
    first = await publisher.final(command.target_id)
    again = await publisher.final(command.target_id, count=2)
    assert (first.type, again.type) == ("published", "published")
    assert again.remote_id == first.remote_id
    await publisher.send(command.model_copy(update={"reconcile": True}))
    reconciled = await publisher.final(command.target_id, count=3)
    assert (reconciled.type, reconciled.remote_id) == ("published", first.remote_id)
    videos, sessions = landed(youtube)
    assert [v["sha256"] for v in videos] == [sha256_of(video)]
    assert len(sessions) == 1


async def test_a_command_redelivered_to_a_new_publisher_after_a_stop_mid_upload_resumes_once(
    sandbox: ServiceProcess,
    lease_server: LeaseServer,
    media_dir: Path,
    youtube: httpx.Client,
    commands: Commands,
    random_video: Callable[[int], Path],
) -> None:
    """A replica stopped (or its partitions revoked) mid-upload: its command ends without a
    result, Kafka hands it to the next publisher, which asks YouTube where the session
    stands (``bytes */TOTAL``) and sends only the rest."""
    database = f"sqlite+aiosqlite:///{media_dir.with_name(uuid.uuid4().hex)}.db"
    video = random_video(4 * CHUNK + 5)
    arm(youtube, kind="slow", bytes_per_second=2 * CHUNK)
    command = commands.command(video)
    async with running(sandbox, lease_server, media_dir, database_url=database) as first:
        await first.send(command)
        deadline = time.monotonic() + 15
        while await received(youtube) < CHUNK:  # YouTube holds the first chunk
            assert time.monotonic() < deadline, "the first chunk never went up"
            await asyncio.sleep(0.05)
    assert first.finals(command.target_id) == [], "a stopped command ends without a result"
    youtube.delete("/sandbox/youtube/faults").raise_for_status()
    held = await received(youtube)
    assert held < video.stat().st_size, "stopped before the last chunk was in"

    async with running(sandbox, lease_server, media_dir, database_url=database) as second:
        await second.send(command)
        result = await second.final(command.target_id)
        assert result.type == "published", result
        assert len(second.finals(command.target_id)) == 1
        resumed = second.progress(command.target_id)
    assert min(resumed) > held, f"resumed where YouTube stood ({held}), not at 0: {resumed}"
    videos, sessions = landed(youtube)
    assert [(v["id"], v["sha256"]) for v in videos] == [(result.remote_id, sha256_of(video))]
    assert len(sessions) == 1, "the recorded session was resumed, no second one opened"


async def received(youtube: httpx.Client) -> int:
    """The bytes YouTube holds of the only session (0 before it is opened)."""
    sessions = (await asyncio.to_thread(landed, youtube))[1]
    return int(sessions[0]["received"]) if sessions else 0
