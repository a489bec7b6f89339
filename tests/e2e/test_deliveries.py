"""End to end through the gateway (issue 13 item 2): the operator delivers a video into a
client's library with a proposal; the client approves; it is published once on the sandbox
and the operator is told on Telegram and sees it, with the same audit trail as the client."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from cachalot_testing.clients import connect_tiktok
from cachalot_testing.media import video_bytes
from cachalot_testing.operators import DEV_OPERATOR, operator_sign_in
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e


def _until(check: Any, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        time.sleep(0.3)


def _telegram_texts(stack: EmbeddedStack, needle: str) -> list[str]:
    body = httpx.get(f"{stack.sandbox}/sandbox/telegram/messages", timeout=5).json()
    messages = body["messages"] if isinstance(body, dict) else body
    return [str(m.get("text", "")) for m in messages if needle in str(m.get("text", ""))]


def _tiktok_posts_with(stack: EmbeddedStack, marker: str) -> int:
    posts = httpx.get(f"{stack.sandbox}/sandbox/tiktok/posts", timeout=5).json()["posts"]
    return sum(1 for p in posts if marker in str((p.get("post_info") or {}).get("title", "")))


@pytest.mark.layouts("embedded", "distributed")
def test_an_operators_delivery_approved_by_the_client_is_published_once_and_the_operator_told(
    stack: EmbeddedStack,
) -> None:
    gateway = stack.gateway
    marker = uuid.uuid4().hex[:8]
    with httpx.Client(timeout=60) as client, httpx.Client(timeout=60) as operator:
        account = connect_tiktok(client, gateway, f"sandbox-extra-dl-{marker}")
        me = client.get(f"{gateway}/api/v1/me").json()
        landed = operator_sign_in(operator, gateway, DEV_OPERATOR)
        assert landed.status_code == 302, landed.text

        uploaded = operator.post(
            f"{gateway}/api/v1/operator/media",
            params={"client_id": me["client_id"]},
            content=video_bytes(),
            headers={"Content-Type": "video/mp4"},
        )
        assert uploaded.status_code == 201, uploaded.text
        media_id = uploaded.json()["id"]
        caption = f"delivered {marker}"
        delivery = operator.post(
            f"{gateway}/api/v1/operator/deliveries",
            json={
                "client_id": me["client_id"],
                "media_id": media_id,
                "note": "Ready for Friday",
                "proposals": [
                    {
                        "targets": [
                            {
                                "account_id": account,
                                "tiktok": {
                                    "caption": caption,
                                    "privacy_level": "PUBLIC_TO_EVERYONE",
                                },
                            }
                        ]
                    }
                ],
            },
        )
        assert delivery.status_code == 201, delivery.text
        proposal = delivery.json()["proposals"][0]["id"]

        # the operator cannot approve it, nor queue the post itself
        refused = operator.post(f"{gateway}/api/v1/posts/proposals/{proposal}/approve")
        assert refused.status_code == 403, refused.text
        assert (
            operator.post(
                f"{gateway}/api/v1/posts",
                json={"media_id": media_id, "targets": [{"account_id": account}]},
            ).status_code
            == 403
        )

        listed = client.get(f"{gateway}/api/v1/posts/proposals").json()["items"]
        [mine] = [d for d in listed if d["id"] == delivery.json()["id"]]
        assert mine["proposals"][0]["status"] == "proposed"
        approved = client.post(f"{gateway}/api/v1/posts/proposals/{proposal}/approve")
        assert approved.status_code == 200, approved.text
        post_id = approved.json()["post_id"]
        again = client.post(f"{gateway}/api/v1/posts/proposals/{proposal}/approve")
        assert again.json()["post_id"] == post_id

        def published() -> dict[str, Any] | None:
            post: dict[str, Any] = client.get(f"{gateway}/api/v1/posts/{post_id}").json()
            status = post["targets"][0]["status"]
            assert status not in ("failed", "cancelled"), post
            return post if status == "published" else None

        _until(published, "the approved post published")
        assert _tiktok_posts_with(stack, marker) == 1
        told = _until(
            lambda: _telegram_texts(stack, f"approved proposal {proposal}"),
            "the operator's Telegram message",
        )
        assert post_id in told[0]

        trail = client.get(f"{gateway}/api/v1/posts/{post_id}/audit").json()["items"]
        assert [(i["action"], i["actor_role"]) for i in trail] == [
            ("delivered", "operator"),
            ("proposed", "operator"),
            ("approved", "client"),
            ("leased", "queue"),
            ("published", "queue"),
        ]
        seen = operator.get(f"{gateway}/api/v1/operator/posts/{post_id}/audit").json()["items"]
        assert seen == trail
        view = operator.get(
            f"{gateway}/api/v1/operator/deliveries", params={"client_id": me["client_id"]}
        ).json()["items"]
        assert view[0]["proposals"][0]["status"] == "approved"
        assert view[0]["proposals"][0]["post_id"] == post_id

        # the client's data export (auth's, with the queue's part) holds them
        export = client.get(f"{gateway}/api/v1/me/export").json()
        [kept] = [d for d in export["deliveries"] if d["id"] == delivery.json()["id"]]
        assert kept["proposals"][0]["post_id"] == post_id
        assert {"delivered", "approved", "published"} <= {a["action"] for a in export["audit"]}
