"""End to end: a post queued before the client's 18+ consent waits for it, then goes out.

Privacy policy: no one under 18; auth leases no token until the client has
confirmed being 18 or over and given an email (``consent_required``). A
client who signed in but had not consented could queue posts; the target was
paused as if the account had to be reconnected, and giving consent did not
resume it. Now it pauses with ``consent_required`` and what to do, and the
consent (auth's ``accounts.v1`` ``connected``) resumes it.
"""

from __future__ import annotations

import hashlib
import struct
import time
import uuid
from typing import Any

import httpx
import pytest

from cachalot_testing.clients import connect_tiktok, create_post, give_consent, upload_media
from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

SAMPLE = video_file().read_bytes()
# a trailing MP4 "free" box makes the bytes this test's own: other tests count the
# sample's sha256 on the sandbox, which must not include this test's post
VIDEO = SAMPLE + struct.pack(">I", 24) + b"free" + uuid.uuid4().bytes


def _target_when(
    http: httpx.Client, stack: EmbeddedStack, post_id: str, done: set[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    target: dict[str, Any] = {}
    while time.monotonic() < deadline:
        target = http.get(f"{stack.gateway}/api/v1/posts/{post_id}").json()["targets"][0]
        if target["status"] in done:
            return target
        time.sleep(0.3)
    raise AssertionError(f"target never reached {done}: {target}")


def test_a_post_queued_before_consent_waits_for_it_and_is_published_once_given(
    stack: EmbeddedStack,
) -> None:
    with httpx.Client(timeout=30) as http:
        user = f"sandbox-extra-consent-{uuid.uuid4().hex[:8]}"
        account = connect_tiktok(http, stack.gateway, user, consent=False)
        assert http.get(f"{stack.gateway}/api/v1/me").json()["consent_given"] is False
        media = upload_media(http, stack.gateway, VIDEO)
        body = {
            "media_id": media["id"],
            "targets": [
                {
                    "account_id": account,
                    "tiktok": {"privacy_level": "SELF_ONLY", "caption": "after consent"},
                }
            ],
        }
        post_id = create_post(http, stack.gateway, body)

        paused = _target_when(http, stack, post_id, {"paused", "published", "failed"})
        assert paused["status"] == "paused", paused
        assert paused["last_error_code"] == "consent_required"
        assert "18 or over and give an email" in paused["last_error"]
        assert "Reconnect" not in paused["last_error"]
        accounts = http.get(f"{stack.gateway}/api/v1/accounts").json()
        assert [a["status"] for a in accounts if a["id"] == account] == ["ok"]

        assert give_consent(http, stack.gateway)["consent_given"] is True
        published = _target_when(http, stack, post_id, {"published", "failed"})
        assert published["status"] == "published", published
        assert published["last_error"] is None

    posts = httpx.get(f"{stack.sandbox}/sandbox/tiktok/posts", timeout=5).json()
    assert posts["counts_by_sha256"].get(hashlib.sha256(VIDEO).hexdigest(), 0) >= 1
