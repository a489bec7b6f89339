"""The real publisher-tiktok, its subscriber driven in memory, against the real sandbox.

``create_app`` builds the whole service (SQLite database, auth's lease endpoint over
HTTP: the conftest's stand-in, TikTok over HTTP: the sandbox process); FastStream's
``TestKafkaBroker`` stands in for Kafka only, so the handler registered when the app
is built takes each command and its results come out on ``posts.result.v1`` in memory.
The same behaviour against real Tansu and a real process: ``test_publishing.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_publisher_tiktok.main import create_app
from cachalot_publisher_tiktok.settings import Settings
from cachalot_testing.publisher import InMemoryPublisher, in_memory, in_memory_settings

from .conftest import MB, SERVICE, SERVICE_SECRET, LeaseStub, Video

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def settings(sandbox: str, lease_stub: LeaseStub, media_dir: Path, **overrides: Any) -> Settings:
    """publisher-tiktok's settings for one test: its own SQLite file, the sandbox TikTok,
    the lease stand-in, a Kafka nobody dials (TestKafkaBroker stands in for it)."""
    values = in_memory_settings(
        service=SERVICE,
        secret=SERVICE_SECRET,
        auth_url=lease_stub.url,
        media_dir=media_dir,
        tiktok_api_base=f"{sandbox}/tiktok",
        tiktok_chunk_size=5 * MB,
        tiktok_status_poll_s=0.1,
        **overrides,
    )
    return Settings(**values)


@contextlib.asynccontextmanager
async def running(
    sandbox: str, lease_stub: LeaseStub, media_dir: Path, **overrides: Any
) -> AsyncIterator[InMemoryPublisher]:
    """The real app (``create_app``, no replaced parts), started, its broker in memory."""
    app = create_app(settings(sandbox, lease_stub, media_dir, **overrides))
    async with in_memory(app, "tiktok") as publisher:
        yield publisher


@pytest.fixture
async def publisher(
    sandbox: str, lease_stub: LeaseStub, media_dir: Path, sbx: httpx.Client
) -> AsyncIterator[InMemoryPublisher]:
    async with running(sandbox, lease_stub, media_dir) as started:
        yield started


def tiktok_posts(sbx: httpx.Client) -> dict[str, Any]:
    return dict(sbx.get("/sandbox/tiktok/posts").json())


async def test_a_command_is_posted_on_tiktok_once_and_one_published_result_comes_out(
    publisher: InMemoryPublisher, sbx: httpx.Client, small_video: Video
) -> None:
    command = small_video.command(privacy_level="PUBLIC_TO_EVERYONE")
    await publisher.send(command)
    result = await publisher.final(command.target_id)
    assert (result.type, result.attempt) == ("published", 1), result
    assert (result.remote_url or "").endswith(f"/video/{result.remote_id}")
    assert len(publisher.finals(command.target_id)) == 1
    state = tiktok_posts(sbx)
    assert state["counts_by_sha256"] == {small_video.sha256: 1}
    assert [p["post_id"] for p in state["posts"]] == [int(result.remote_id or 0)]
    assert len(state["publishes"]) == 1


async def test_tiktoks_per_minute_init_limit_comes_back_retryable_with_its_wait_not_slept(
    publisher: InMemoryPublisher, sbx: httpx.Client, small_video: Video
) -> None:
    sbx.post("/sandbox/tiktok/config", json={"init_per_minute": 1}).raise_for_status()
    account = uuid.uuid4()
    first = small_video.command(account_id=account)
    await publisher.send(first)
    assert (await publisher.final(first.target_id)).type == "published"

    limited = small_video.command(account_id=account)  # the same token: over TikTok's limit
    sent = time.monotonic()
    await publisher.send(limited)
    result = await publisher.final(limited.target_id)
    assert (result.type, result.code) == ("retryable", "rate_limited"), result
    assert 60 <= (result.retry_after_s or 0) < 61, result.retry_after_s
    assert time.monotonic() - sent < 5, "the wait went back to the queue, it was not slept"
    assert len(publisher.finals(limited.target_id)) == 1
    assert len(tiktok_posts(sbx)["publishes"]) == 1, "the refused init made no publish"

    # the queue's retry, once the window has passed (here: the limit turned off)
    sbx.post("/sandbox/tiktok/config", json={"rate_limits_enabled": False}).raise_for_status()
    await publisher.send(limited.model_copy(update={"attempt": 2}))
    retried = await publisher.final(limited.target_id, count=2)
    assert (retried.type, retried.attempt) == ("published", 2), retried
    assert len(tiktok_posts(sbx)["publishes"]) == 2


async def test_a_rate_limit_answer_armed_on_init_is_retryable_rate_limited_with_retry_after(
    publisher: InMemoryPublisher, sbx: httpx.Client, small_video: Video
) -> None:
    sbx.post("/sandbox/tiktok/faults", json={"endpoint": "init", "kind": "rate_limit"})
    command = small_video.command()
    sent = time.monotonic()
    await publisher.send(command)
    result = await publisher.final(command.target_id)
    assert (result.type, result.code) == ("retryable", "rate_limited"), result
    # TikTok sends no Retry-After: a minute, its window, past the in-process maximum
    assert 60 <= (result.retry_after_s or 0) < 61, result.retry_after_s
    assert time.monotonic() - sent < 5, "the wait went back to the queue, it was not slept"
    assert tiktok_posts(sbx)["publishes"] == []


async def test_our_own_per_account_init_budget_hands_a_long_wait_back_to_the_queue(
    sandbox: str, lease_stub: LeaseStub, media_dir: Path, sbx: httpx.Client, small_video: Video
) -> None:
    async with running(sandbox, lease_stub, media_dir, tiktok_init_per_minute=1) as publisher:
        account = uuid.uuid4()
        first, second = (small_video.command(account_id=account) for _ in range(2))
        await publisher.send(first)
        assert (await publisher.final(first.target_id)).type == "published"
        sent = time.monotonic()
        await publisher.send(second)
        result = await publisher.final(second.target_id)
        assert (result.type, result.code) == ("retryable", "rate_limited"), result
        assert 50 <= (result.retry_after_s or 0) <= 61, result.retry_after_s
        assert time.monotonic() - sent < 5
        assert len(tiktok_posts(sbx)["publishes"]) == 1, "TikTok was not asked past the budget"


async def test_the_same_command_delivered_twice_posts_once_and_answers_published_twice(
    publisher: InMemoryPublisher, sbx: httpx.Client, small_video: Video
) -> None:
    command = small_video.command()
    await publisher.send(command)
    await publisher.send(command)  # Kafka delivers a record again after a lost commit
    first = await publisher.final(command.target_id)
    again = await publisher.final(command.target_id, count=2)
    assert (first.type, again.type) == ("published", "published")
    assert again.remote_id == first.remote_id
    await publisher.send(command.model_copy(update={"reconcile": True}))
    reconciled = await publisher.final(command.target_id, count=3)
    assert (reconciled.type, reconciled.remote_id) == ("published", first.remote_id)
    state = tiktok_posts(sbx)
    assert len(state["publishes"]) == 1
    assert state["counts_by_sha256"] == {small_video.sha256: 1}


async def test_a_redelivered_command_whose_status_check_failed_asks_tiktok_and_posts_once(
    publisher: InMemoryPublisher, sbx: httpx.Client, small_video: Video
) -> None:
    sbx.post("/sandbox/tiktok/faults", json={"endpoint": "status", "kind": "http_5xx"})
    command = small_video.command()
    await publisher.send(command)
    result = await publisher.final(command.target_id)
    assert (result.type, result.code) == ("retryable", "platform_unavailable"), result
    assert len(tiktok_posts(sbx)["publishes"]) == 1, "the video went up before the 5xx"

    await publisher.send(command)  # the same attempt, delivered again
    again = await publisher.final(command.target_id, count=2)
    assert again.type == "published", again
    state = tiktok_posts(sbx)
    assert len(state["publishes"]) == 1, "TikTok's status was asked; no second init"
    assert state["counts_by_sha256"] == {small_video.sha256: 1}
    # a post only its creator sees has no public id: TikTok's publish id stands for it
    assert [p["publish_id"] for p in state["posts"]] == [again.remote_id]


async def test_a_command_redelivered_to_a_new_publisher_after_a_stop_mid_upload_resumes_once(
    sandbox: str, lease_stub: LeaseStub, media_dir: Path, sbx: httpx.Client, video_12mb: Video
) -> None:
    """A replica stopped (or its partitions revoked) mid-upload: its command ends without a
    result, Kafka hands it to the next publisher, which asks TikTok where the upload stands."""
    database = f"sqlite+aiosqlite:///{media_dir.with_name(uuid.uuid4().hex)}.db"
    sbx.post("/sandbox/tiktok/config", json={"upload_throttle_bps": 4 * MB}).raise_for_status()
    command = video_12mb.command()  # two chunks: 5 MiB, then the rest
    async with running(sandbox, lease_stub, media_dir, database_url=database) as first:
        await first.send(command)
        deadline = time.monotonic() + 15
        while await uploaded_bytes(sbx) < 5 * MB:  # TikTok holds the first chunk
            assert time.monotonic() < deadline, "the first chunk never went up"
            await asyncio.sleep(0.05)
    assert first.finals(command.target_id) == [], "a stopped command ends without a result"
    sbx.post("/sandbox/tiktok/config", json={"upload_throttle_bps": 0}).raise_for_status()
    held = await uploaded_bytes(sbx)
    assert held < video_12mb.size, "stopped before the last chunk was in"

    async with running(sandbox, lease_stub, media_dir, database_url=database) as second:
        await second.send(command)
        result = await second.final(command.target_id)
        assert result.type == "published", result
        assert len(second.finals(command.target_id)) == 1
        resumed_from = min(r.bytes_sent or 0 for r in second.results if r.type == "progress")
    assert resumed_from > held, "the upload resumed where TikTok stood, not at byte 0"
    state = tiktok_posts(sbx)
    assert len(state["publishes"]) == 1, "no second init"
    assert state["counts_by_sha256"] == {video_12mb.sha256: 1}


async def uploaded_bytes(sbx: httpx.Client) -> int:
    """The bytes TikTok holds of the only publish (0 before init)."""
    publishes = (await asyncio.to_thread(tiktok_posts, sbx))["publishes"]
    return int(publishes[0]["uploaded_bytes"]) if publishes else 0
