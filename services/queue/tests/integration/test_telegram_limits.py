"""Telegram's limits are checked when a post is queued, naming the field (issue 10 items 1, 5)."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from queue_support import QueueServer, own_queue

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).parent.parent / "fixtures"


async def test_a_telegram_caption_over_1024_characters_after_parsing_is_a_422_naming_it(
    queue: QueueServer,
) -> None:
    client = queue.client()
    account = await client.account("telegram")
    media = await client.upload()
    markup = "<b>" + "a" * 1000 + "</b>" + "<i>" + "b" * 24 + "</i>"  # 1024 once parsed
    fits = await client.post(
        {
            "media_id": media["id"],
            "targets": [{"account_id": str(account), "telegram": {"caption": markup}}],
        }
    )
    assert fits.status_code == 201, fits.text
    too_long = await client.post(
        {
            "media_id": media["id"],
            "targets": [{"account_id": str(account), "telegram": {"caption": markup + "c"}}],
        }
    )
    assert too_long.status_code == 422, too_long.text
    problem = too_long.json()
    assert [e["field"] for e in problem["errors"]] == ["targets[0].telegram.caption"]
    assert "1024 UTF-16 units after entity parsing" in problem["errors"][0]["message"]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def roomy_queue(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[QueueServer]:
    """A queue that takes uploads past Telegram's 50 MB (the shared one stops at 1 MiB)."""
    async with own_queue(
        request, kafka_bootstrap, kafka_idempotence, tmp_path_factory, "roomy",
        max_media_bytes=80 * 1024 * 1024,
    ) as server:  # fmt: skip
        yield server


async def test_a_60_mb_video_for_telegrams_cloud_bot_api_is_a_422(
    roomy_queue: QueueServer,
) -> None:
    client = roomy_queue.client()
    account = await client.account("telegram")
    small = FIXTURES / "tiny.mp4"
    padding = 60 * 1024 * 1024
    big = small.read_bytes() + struct.pack(">I4s", padding, b"free") + bytes(padding - 8)
    response = await client.http.post(
        "/api/v1/media", content=big, headers={"Content-Type": "video/mp4"}
    )
    assert response.status_code == 201, response.text
    refused = await client.post(
        {"media_id": response.json()["id"], "targets": [{"account_id": str(account)}]}
    )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    # at its target: the same file may fit another (fresh10k: said at media_id)
    assert error["field"] == "targets[0].media.size"
    assert "at most 50 MB through the Bot API" in error["message"]
