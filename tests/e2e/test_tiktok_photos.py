"""End to end, issue 10: a TikTok photo post through the whole system, as `make dev` runs it.

The queue puts a signed link to each image in the command; the sandbox's
TikTok pulls them (``PULL_FROM_URL``) from the embedded gateway with real
HTTP GETs, as TikTok pulls from a verified ``CACHALOT_PUBLIC_URL`` prefix,
and records each pulled image's SHA-256, which proves the bytes and counts
the posts.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import httpx
import pytest

from cachalot_testing.clients import connect_account, create_post, upload_media
from cachalot_testing.media import image_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e


def _finished(http: httpx.Client, stack: EmbeddedStack, post_id: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    post: dict[str, Any] = {}
    while time.monotonic() < deadline:
        post = http.get(f"{stack.gateway}/api/v1/posts/{post_id}").json()
        if post["targets"][0]["status"] in ("published", "failed"):
            return post["targets"][0]
        time.sleep(0.3)
    raise AssertionError(f"post never finished: {post}")


def test_a_photo_post_is_pulled_from_its_signed_links_and_published_once_with_identical_bytes(
    stack: EmbeddedStack,
) -> None:
    tag = uuid.uuid4().hex[:8]
    with httpx.Client(timeout=30) as http:
        account = connect_account(http, stack.gateway, "tiktok", f"sandbox-extra-ph-{tag[:6]}")
        images = [
            image_file(width=1080, height=1350, colour=c).read_bytes()
            for c in ("0x0a2b4c", "0x2b4c6d", "0x4c6d8e")
        ]
        ids = [upload_media(http, stack.gateway, b, "image/jpeg")["id"] for b in images]
        post_id = create_post(
            http,
            stack.gateway,
            {
                "kind": "photo",
                "image_ids": ids,
                "targets": [
                    {
                        "account_id": account,
                        "tiktok": {
                            "caption": f"Days by the sea {tag}",
                            "photo_title": f"Trip {tag}",
                            "photo_cover_index": 1,
                            # TikTok names a public post only (publicaly_available_post_id)
                            "privacy_level": "PUBLIC_TO_EVERYONE",
                        },
                    }
                ],
            },
        )
        target = _finished(http, stack, post_id)
    assert target["status"] == "published", target
    time.sleep(1.0)  # a late duplicate would show up now
    posts = httpx.get(f"{stack.sandbox}/sandbox/tiktok/posts", timeout=10).json()["posts"]
    mine = [p for p in posts if p["post_info"].get("title") == f"Trip {tag}"]
    assert len(mine) == 1, mine
    (post,) = mine
    assert post["media_type"] == "PHOTO"
    assert post["post_info"]["description"] == f"Days by the sea {tag}"
    assert [(i["sha256"], i["size"]) for i in post["images"]] == [
        (hashlib.sha256(b).hexdigest(), len(b)) for b in images
    ]
    assert str(post["post_id"]) == target["remote_id"]
    assert target["remote_url"].endswith(f"/photo/{target['remote_id']}")
