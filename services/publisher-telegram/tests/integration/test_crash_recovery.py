"""kill -9 of publisher-telegram in the middle of a post, then a restart: never two posts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cachalot_testing.processes import ServiceProcess

from .harness import Commands, Results, sha256_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]  # two process starts each


async def test_a_publisher_killed_before_telegrams_answer_reports_an_unknown_outcome_not_a_failure_nor_a_second_post(  # noqa: E501
    start_publisher: Callable[[], ServiceProcess],
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    random_file: Callable[..., Path],
) -> None:
    first = start_publisher()
    telegram.post("/sandbox/telegram/delays", json={"seconds": 20}).raise_for_status()
    video = random_file(2 * 1024 * 1024)
    command = commands.command("video", video=video, caption="Survives kill -9")
    await commands.send(command)
    deadline = time.monotonic() + 60
    while not telegram.get("/sandbox/telegram/messages").json()["count"]:
        assert time.monotonic() < deadline, "the video never reached the sandbox"
        await asyncio.sleep(0.05)
    first.kill()  # Telegram has posted; its answer (the message id) is lost with the process
    telegram.delete("/sandbox/telegram/delays").raise_for_status()
    start_publisher()

    result = await results.final(command.target_id, timeout=120)
    # not a failure: the queue shows it unconfirmed, for the client to check (issue 10)
    assert (result.type, result.code) == ("unknown", "outcome_unknown")
    assert "Check your channel" in (result.reason or "")
    assert "fail" not in (result.reason or "").lower()
    posted = telegram.get("/sandbox/telegram/messages").json()["messages"]
    assert [p["files"][0]["sha256"] for p in posted] == [sha256_of(video)]  # once, intact


async def test_a_publisher_killed_before_the_post_starts_posts_exactly_once_after_restart(
    start_publisher: Callable[[], ServiceProcess],
    telegram: httpx.Client,
    commands: Commands,
    results: Results,
    random_file: Callable[..., Path],
) -> None:
    first = start_publisher()
    first.kill()  # dies with the command unread: the restart must post it, once
    video = random_file(1024 * 1024)
    command = commands.command("video", video=video)
    await commands.send(command)
    start_publisher()

    result = await results.final(command.target_id, timeout=120)
    assert result.type == "published", result.reason
    posted = telegram.get("/sandbox/telegram/messages").json()["messages"]
    assert [p["files"][0]["sha256"] for p in posted] == [sha256_of(video)]
