"""Read-your-writes over the queue's copy of auth's accounts (``cachalot_queue.catch_up``).

The client's browser learns of a connected account, or of a linked Telegram channel, from auth;
the queue learns of it from the ``accounts.v1`` event a moment later. A request made in that
moment must not be refused by the queue's lagging copy: found in the clean-clone CI run of
2026-12-01, where a channel linked in the dashboard was refused ("no channel our bot can post
to", 422) and an operator's delivery to a client who had just signed in was refused ("No such
client here", 404).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from queue_support import VIDEO, ApiClient, QueueServer, own_queue

from cachalot_common.events import AccountChanged
from cachalot_common.topics import ACCOUNTS

pytestmark = pytest.mark.integration

LAG_S = 0.5
"""How late the event is sent in these tests."""
WINDOW_S = 5.0
"""The queue's wait for a lagging account here: ten times the lag, so that a busy machine's
slow delivery of the event is not read as the queue refusing (the clean-clone CI run of
2026-12-01 16:00 UTC missed the default 1.5 s on PostgreSQL while other tests ran)."""


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def queue(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[QueueServer]:
    """A queue of this module's own whose wait for a lagging account is :data:`WINDOW_S`."""
    async with own_queue(
        request,
        kafka_bootstrap,
        kafka_idempotence,
        tmp_path_factory,
        "catch-up",
        account_catch_up_s=WINDOW_S,
    ) as server:
        yield server


def send_later(client: ApiClient, account_id: uuid.UUID, platform: str, **extra: Any) -> Any:
    """Send the account's ``connected`` event after :data:`LAG_S`, without waiting for it."""

    async def later() -> None:
        await asyncio.sleep(LAG_S)
        event = AccountChanged(
            type="connected",
            account_id=account_id,
            client_id=client.id,
            platform=platform,  # type: ignore[arg-type]
            **extra,
        )
        await client.server.kafka.send(ACCOUNTS, event, key=str(account_id))

    return asyncio.create_task(later())


async def test_a_post_for_an_account_connected_a_moment_ago_is_queued_not_refused(
    queue: QueueServer,
) -> None:
    client = queue.client()
    media = await client.upload()
    account = uuid.uuid4()
    late = send_later(client, account, "tiktok")
    answer = await client.post(
        {
            "media_id": media["id"],
            "targets": [
                {"account_id": str(account), "tiktok": {"privacy_level": "SELF_ONLY"}},
            ],
        }
    )
    await late
    assert answer.status_code == 201, answer.text


async def test_a_telegram_channel_linked_a_moment_ago_takes_the_post(queue: QueueServer) -> None:
    client = queue.client()
    account = await client.account("telegram", "needs_channel", code="channel_not_linked")
    late = send_later(client, account, "telegram")
    answer = await client.post(
        {
            "kind": "article",
            "article": {"title": "Whales", "body_html": "<p>Whales sing.</p>"},
            "targets": [{"account_id": str(account)}],
        }
    )
    await late
    assert answer.status_code == 201, answer.text


async def test_an_account_that_never_arrives_is_refused_after_the_wait_naming_the_field(
    queue: QueueServer,
) -> None:
    client = queue.client()
    media = await client.upload()
    started = time.monotonic()
    answer = await client.post(
        {
            "media_id": media["id"],
            "targets": [
                {"account_id": str(uuid.uuid4()), "tiktok": {"privacy_level": "SELF_ONLY"}}
            ],
        }
    )
    assert answer.status_code == 422, answer.text
    assert [e["field"] for e in answer.json()["errors"]] == ["targets[0].account_id"]
    assert time.monotonic() - started >= WINDOW_S - 0.1  # the queue waited its whole window


async def test_an_operator_delivers_to_a_client_who_signed_in_a_moment_ago(
    queue: QueueServer,
) -> None:
    client = queue.client()
    late = send_later(client, uuid.uuid4(), "tiktok")
    answer = await queue.operator().post(
        "/api/v1/operator/media",
        params={"client_id": str(client.id)},
        content=VIDEO,
        headers={"Content-Type": "video/mp4"},
    )
    await late
    assert answer.status_code == 201, answer.text
