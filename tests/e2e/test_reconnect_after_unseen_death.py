"""End to end, issue 11 item 4 (fresh11c's MEDIUM): a YouTube refresh token dies at
Google without CACHALOT hearing of it (revoked there, or unused for six months);
the client reconnects the account from the dashboard's side before anything failed.

Google still remembers the grant, so a consent page without ``prompt=consent`` issues
no new refresh token: the reconnect looked fine (a new access token, ``ok``) and the
account failed at its next publish once the access token needed refreshing.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from cachalot_testing.clients import connect_account, create_post, sign_in_as, upload_media
from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

VIDEO = video_file()


def _google(stack: EmbeddedStack, path: str, body: Any = None) -> dict[str, Any]:
    url = f"{stack.sandbox}/sandbox/oauth/google/{path}"
    answer = httpx.get(url, timeout=5) if body is None else httpx.post(url, json=body, timeout=5)
    answer.raise_for_status()
    return dict(answer.json())


@pytest.mark.layouts("embedded")
def test_a_youtube_account_whose_refresh_token_died_unseen_is_reconnected_and_publishes(
    stack: EmbeddedStack,
) -> None:
    user = f"sandbox-extra-unseen{uuid.uuid4().hex[:8]}"
    title = f"After reconnect {uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=30) as http:
        account_id = connect_account(http, stack.gateway, "youtube", user)
        died = _google(stack, f"users/{user}/expire-refresh-tokens", {})
        assert died == {"expired_refresh_tokens": 1}
        asked = _google(stack, "stats").get("consent_asked", 0)
        lifetime = _google(stack, "config")["access_token_lifetime_s"]
        # the reconnect's access token expires within auth's refresh margin (300 s), so
        # the publish must refresh it: only a new refresh token lets it through
        _google(stack, "config", {"access_token_lifetime_s": 60})
        try:
            sign_in_as(http, stack.gateway, "youtube", user)  # the dashboard's Reconnect
        finally:
            _google(stack, "config", {"access_token_lifetime_s": lifetime})
        assert _google(stack, "stats")["consent_asked"] == asked + 1  # Google was asked again
        media = upload_media(http, stack.gateway, VIDEO.read_bytes())
        body = {
            "media_id": media["id"],
            "targets": [{"account_id": account_id, "youtube": {"title": title}}],
        }
        post_id = create_post(http, stack.gateway, body)
        deadline = time.monotonic() + 90
        target: dict[str, Any] = {}
        while time.monotonic() < deadline:
            post = http.get(f"{stack.gateway}/api/v1/posts/{post_id}").json()
            target = post["targets"][0]
            if target["status"] not in ("scheduled", "dispatched", "publishing"):
                break  # published, or failed/paused (reauth) as before the fix
            time.sleep(0.3)
        assert target["status"] == "published", target
        accounts = {a["id"]: a for a in http.get(f"{stack.gateway}/api/v1/accounts").json()}
        assert accounts[account_id]["status"] == "ok"
    videos = httpx.get(f"{stack.sandbox}/sandbox/youtube/videos", timeout=5).json()["videos"]
    assert [v["title"] for v in videos].count(title) == 1
