"""End to end, issue 8 item 3: a publish grant leases nothing once its post is published.

The attack as it was reported: with publisher-tiktok's service credentials and
a grant read from Kafka (it travels in the ``PublishPost`` command and lives
6 h), auth leased the client's token again for a post already published. Auth
now follows the queue's ``posts.status.v1`` and refuses (403 ``grant_spent``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from cachalot_common.leases import LeaseClient, LeaseRefused
from cachalot_common.topics import publish_topic
from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

VIDEO = video_file()


def _signed_in_client(stack: EmbeddedStack) -> httpx.Client:
    http = httpx.Client(follow_redirects=True, timeout=30)
    httpx.post(
        f"{stack.sandbox}/sandbox/oauth/tiktok/config", json={"auto_consent": 1}, timeout=5
    ).raise_for_status()
    landed = http.get(f"{stack.gateway}/api/v1/auth/tiktok/login", params={"next": "/"})
    assert "connected=tiktok" in str(landed.url), str(landed.url)
    agreed = http.post(
        f"{stack.gateway}/api/v1/me/consent",
        json={"adult": True, "email": f"g-{uuid.uuid4().hex[:6]}@example.com"},
    )
    assert agreed.status_code == 200, agreed.text
    return http


def _published_post(http: httpx.Client, stack: EmbeddedStack) -> tuple[str, str]:
    """Queue a TikTok post and wait until it is published: (post id, account id)."""
    accounts = http.get(f"{stack.gateway}/api/v1/accounts").json()
    account = next(a["id"] for a in accounts if a["platform"] == "tiktok")
    media = http.post(
        f"{stack.gateway}/api/v1/media",
        content=VIDEO.read_bytes(),
        headers={"content-type": "video/mp4"},
    )
    assert media.status_code == 201, media.text
    body = {
        "media_id": media.json()["id"],
        "targets": [
            {
                "account_id": account,
                "tiktok": {"privacy_level": "SELF_ONLY", "caption": "spent grant"},
            }
        ],
    }
    deadline = time.monotonic() + 30
    while True:  # the queue may not have learned the account from accounts.v1 yet
        created = http.post(f"{stack.gateway}/api/v1/posts", json=body)
        if created.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert created.status_code == 201, created.text
    post_id = str(created.json()["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = http.get(f"{stack.gateway}/api/v1/posts/{post_id}").json()["targets"][0]
        if status["status"] in ("published", "failed"):
            break
        time.sleep(0.3)
    assert status["status"] == "published", status
    return post_id, account


async def _command_of(bootstrap: str, post_id: str) -> dict[str, Any]:
    """The PublishPost command for ``post_id`` as a reader of the topic sees it."""
    consumer = AIOKafkaConsumer(
        publish_topic("tiktok"),
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while True:
                batch = await consumer.getmany(timeout_ms=500)
                for records in batch.values():
                    for record in records:
                        command = json.loads(record.value)
                        if command.get("post_id") == post_id:
                            return dict(command)
    finally:
        await consumer.stop()


def test_a_published_posts_grant_replayed_with_the_publishers_credentials_is_refused(
    stack: EmbeddedStack, kafka_bootstrap: str
) -> None:
    """Sync on purpose: the browser tests' Playwright keeps an event loop running in this
    thread, so the async part runs on its own loop in a worker thread."""
    http = _signed_in_client(stack)
    try:
        post_id, account_id = _published_post(http, stack)
    finally:
        http.close()
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        refusal = worker.submit(
            asyncio.run, _replay(stack, kafka_bootstrap, post_id, account_id)
        ).result()
    assert refusal == (403, "grant_spent"), "refused within seconds of publication"


async def _replay(
    stack: EmbeddedStack, bootstrap: str, post_id: str, account_id: str
) -> tuple[int, str | None] | None:
    """Lease with the published post's grant, as publisher-tiktok, until refused (10 s)."""
    command = await _command_of(bootstrap, post_id)
    assert command["grant"], "the command carries the queue's grant"
    secrets = json.loads((stack.var_dir / "dev-secrets.json").read_text())
    async with httpx.AsyncClient(timeout=10) as client:
        publisher = LeaseClient(
            base_url=stack.service_url("auth"),
            service="publisher-tiktok",
            secret=secrets["service_secret_publisher-tiktok"],
            client=client,
        )
        published_at = time.monotonic()
        refusal: tuple[int, str | None] | None = None
        while refusal != (403, "grant_spent") and time.monotonic() - published_at < 10:
            try:
                await publisher.lease(
                    uuid.UUID(account_id),
                    post_id=uuid.UUID(post_id),
                    target_id=uuid.UUID(command["target_id"]),
                    grant=command["grant"],
                )
            except LeaseRefused as refused:
                refusal = (refused.status, refused.code)
            else:
                await asyncio.sleep(0.2)
    return refusal
