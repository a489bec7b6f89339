"""kill -9 of publisher-vk in the middle of a post, then a restart: one wall post."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from cachalot_testing.processes import ServiceProcess

from .harness import Commands, Results

# two publisher starts on a loaded two-core machine
pytestmark = pytest.mark.timeout(420)


async def test_a_publisher_killed_between_uploads_and_restarted_posts_exactly_once(
    commands: Commands,
    results: Results,
    vk: httpx.Client,
    start_publisher: Callable[[], ServiceProcess],
    make_file: Callable[..., Path],
) -> None:
    first = start_publisher()
    images = [make_file(200_000 + i, image=True) for i in range(6)]
    command = commands.command(images=images, message="six photos")
    await commands.send(command)
    # wait until VK holds some of the photos, then kill -9 before the wall post
    for _ in range(400):
        calls = vk.get("/posts").json()["calls"]
        if calls.count("photos.saveWallPhoto") >= 2:
            break
        await asyncio.sleep(0.02)
    first.kill()
    start_publisher()
    result = await results.final(command.target_id, timeout=90)
    assert result.type == "published", result
    posts = vk.get("/posts").json()
    (post,) = posts["posts"]
    assert [f["sha256"] for f in post["files"]] == [
        hashlib.sha256(p.read_bytes()).hexdigest() for p in images
    ]
    assert posts["calls"].count("wall.post") >= 1
