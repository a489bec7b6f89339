"""publisher-tiktok on the shared runtime: one account's slow upload or rate limit never
holds another account's post (sandbox TikTok, real Tansu, PostgreSQL, a real process)."""

from __future__ import annotations

import time

import httpx
import pytest

from .conftest import MB, store_video

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def test_a_small_post_is_published_within_two_seconds_during_another_accounts_long_upload(
    sbx: httpx.Client, publisher, kafka, media_dir, small_video
) -> None:
    large = store_video(media_dir, size=12 * MB)
    sbx.post("/sandbox/tiktok/config", json={"upload_throttle_bps": 400 * 1024})  # about 30 s
    slow = large.command()
    await kafka.send(slow)
    deadline = time.monotonic() + 30
    while not sbx.get("/sandbox/tiktok/posts").json()["publishes"]:
        assert time.monotonic() < deadline, "the large upload never started"
        time.sleep(0.1)
    quick = small_video.command()
    sent = time.monotonic()
    await kafka.send(quick)
    assert (await kafka.final(quick.target_id)).type == "published"
    assert time.monotonic() - sent < 2.0
    result = await kafka.final(slow.target_id, timeout=120)
    assert result.type == "published", result


async def test_an_account_past_tiktoks_init_limit_goes_back_to_the_queue_and_others_go_on(
    sbx: httpx.Client, publisher, kafka, small_video
) -> None:
    busy = small_video.command()
    first_six = [busy] + [small_video.command(account_id=busy.account_id) for _ in range(5)]
    seventh = small_video.command(account_id=busy.account_id)
    for command in first_six:
        await kafka.send(command)
    for command in first_six:
        assert (await kafka.final(command.target_id)).type == "published"
    await kafka.send(seventh)
    other = small_video.command()
    await kafka.send(other)
    result = await kafka.final(seventh.target_id)
    assert (result.type, result.code) == ("retryable", "rate_limited")
    assert (result.retry_after_s or 0) > 10, "a wait past the in-process maximum, in full"
    assert (await kafka.final(other.target_id)).type == "published"
