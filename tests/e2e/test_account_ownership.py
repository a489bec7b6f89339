"""End to end, issue 8 item 2: a post publishes only to an account its own client holds now.

The attack as it was reported: Ann's TikTok post fails, Ann disconnects the
account, Bob connects the same TikTok user (auth gives him the account row),
Ann presses Retry. Before the fix the post went out on Bob's account with
Bob's token, and Bob's export showed a lease for Ann's post.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

VIDEO = video_file()
SHARED_USER = "-000sandboxBobOpenId"  # the TikTok user both clients connect
BOBS_GOOGLE_USER = "108000000000000000002"  # how Bob is a client of his own first


def _sign_in(http: httpx.Client, stack: EmbeddedStack, user: str, platform: str = "tiktok") -> None:
    """Our login for ``platform``, then the sandbox's consent answered Allow as ``user``."""
    login = f"{stack.gateway}/api/v1/auth/{platform}/login"
    start = http.get(login, params={"next": "/"}, follow_redirects=False)
    assert start.status_code == 302, start.text
    consent = httpx.URL(start.headers["location"]).copy_merge_params(
        {"sandbox_auto": "allow", "sandbox_user": user}
    )
    landed = http.get(consent)
    assert f"connected={platform}" in str(landed.url), str(landed.url)
    agreed = http.post(
        f"{stack.gateway}/api/v1/me/consent",
        json={"adult": True, "email": f"c-{uuid.uuid4().hex[:6]}@example.com"},
    )
    assert agreed.status_code == 200, agreed.text


def _account(http: httpx.Client, stack: EmbeddedStack, platform: str = "tiktok") -> str:
    accounts = http.get(f"{stack.gateway}/api/v1/accounts").json()
    return str(next(a["id"] for a in accounts if a["platform"] == platform))


def _until(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    raise AssertionError(f"never: {what}")


@pytest.fixture
def ann(stack: EmbeddedStack) -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        _sign_in(http, stack, SHARED_USER)
        yield http


@pytest.fixture
def bob(stack: EmbeddedStack) -> Iterator[httpx.Client]:
    """Another client (signed in with YouTube), who will connect the same TikTok user."""
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        _sign_in(http, stack, BOBS_GOOGLE_USER, "youtube")
        yield http
        for platform in ("tiktok", "youtube"):  # leave both users free for other tests
            http.delete(f"{stack.gateway}/api/v1/accounts/{_account(http, stack, platform)}")


def _published_count(stack: EmbeddedStack, sha256: str) -> int:
    """How many times the sandbox TikTok has published a file with this SHA-256."""
    published = httpx.get(f"{stack.sandbox}/sandbox/tiktok/posts", timeout=5).json()
    return int(published["counts_by_sha256"].get(sha256, 0))


def test_a_retry_after_the_account_changed_hands_is_refused_and_publishes_nothing(
    ann: httpx.Client, bob: httpx.Client, stack: EmbeddedStack
) -> None:
    account = _account(ann, stack)
    # The sandbox is shared by the session: other tests publish this sample too; count ours.
    before = _published_count(stack, hashlib.sha256(VIDEO.read_bytes()).hexdigest())
    media = ann.post(
        f"{stack.gateway}/api/v1/media",
        content=VIDEO.read_bytes(),
        headers={"content-type": "video/mp4"},
    )
    assert media.status_code == 201, media.text
    httpx.post(  # TikTok refuses this one post for good
        f"{stack.sandbox}/sandbox/tiktok/faults",
        json={"endpoint": "creator_info", "kind": "spam_risk"},
        timeout=5,
    ).raise_for_status()
    body = {
        "media_id": media.json()["id"],
        "targets": [
            {
                "account_id": account,
                "tiktok": {"privacy_level": "SELF_ONLY", "caption": "Ann's video"},
            }
        ],
    }
    created = _until(
        lambda: (
            (r := ann.post(f"{stack.gateway}/api/v1/posts", json=body)).status_code == 201
            and r.json()
        ),
        "the queue knows Ann's account",
    )
    post_url = f"{stack.gateway}/api/v1/posts/{created['id']}"
    _until(lambda: ann.get(post_url).json()["targets"][0]["status"] == "failed", "failed")

    assert ann.delete(f"{stack.gateway}/api/v1/accounts/{account}").status_code == 204
    _sign_in(bob, stack, SHARED_USER)
    assert _account(bob, stack) == account, "auth gave Bob the same account row"
    me = f"{stack.gateway}/api/v1/me"
    assert bob.get(me).json()["client_id"] != ann.get(me).json()["client_id"]

    target = _until(
        lambda: (t := ann.get(post_url).json()["targets"][0])["status"] == "cancelled" and t,
        "Ann's failed target is cancelled",
    )
    assert target["last_error_code"] in {"account_revoked", "account_reassigned"}
    retry = ann.post(f"{post_url}/retry")
    assert retry.status_code == 409, retry.text
    assert retry.headers["content-type"].startswith("application/problem+json")
    [error] = retry.json()["errors"]
    assert error["field"] == "targets[0]"
    assert error["type"] == target["last_error_code"]

    time.sleep(2.0)  # what a dispatch would have taken
    assert ann.get(post_url).json()["targets"][0]["status"] == "cancelled"
    assert _published_count(stack, media.json()["sha256"]) == before, "the retry published"
    leases = bob.get(f"{stack.gateway}/api/v1/me/export").json()["token_leases"]
    assert created["id"] not in {lease["post_id"] for lease in leases}


def test_a_stranger_signing_in_through_an_account_the_client_disconnected_gets_a_new_client(
    stack: EmbeddedStack,
) -> None:
    """The red team's report: Ann disconnects YouTube; whoever holds that Google user signs in
    with it in a fresh browser. Before the fix they landed in Ann's client (her email, posts,
    her TikTok to publish on); now they start a client of their own."""
    me = f"{stack.gateway}/api/v1/me"
    with (
        httpx.Client(follow_redirects=True, timeout=30) as ann,
        httpx.Client(follow_redirects=True, timeout=30) as stranger,
    ):
        _sign_in(ann, stack, SHARED_USER)
        _sign_in(ann, stack, BOBS_GOOGLE_USER, "youtube")
        anns = ann.get(me).json()
        tiktok, youtube = _account(ann, stack), _account(ann, stack, "youtube")
        try:
            assert ann.delete(f"{stack.gateway}/api/v1/accounts/{youtube}").status_code == 204

            _sign_in(stranger, stack, BOBS_GOOGLE_USER, "youtube")
            theirs = stranger.get(me).json()
            accounts = stranger.get(f"{stack.gateway}/api/v1/accounts").json()
            media = stranger.post(
                f"{stack.gateway}/api/v1/media",
                content=VIDEO.read_bytes(),
                headers={"content-type": "video/mp4"},
            )
            assert media.status_code == 201, media.text
            on_anns = stranger.post(
                f"{stack.gateway}/api/v1/posts",
                json={
                    "media_id": media.json()["id"],
                    "targets": [
                        {
                            "account_id": tiktok,
                            "tiktok": {"privacy_level": "SELF_ONLY", "caption": "not Ann's"},
                        }
                    ],
                },
            )
            export = stranger.get(f"{stack.gateway}/api/v1/me/export")
        finally:  # leave both users free for other tests
            ann.delete(f"{stack.gateway}/api/v1/accounts/{tiktok}")
            stranger.delete(f"{stack.gateway}/api/v1/accounts/{youtube}")
    assert theirs["client_id"] != anns["client_id"]
    assert theirs["email"] != anns["email"]
    assert [(a["id"], a["status"]) for a in accounts] == [(youtube, "ok")]
    assert 400 <= on_anns.status_code < 500, on_anns.text
    assert export.status_code == 200, export.text
    assert anns["email"] not in export.text
    assert tiktok not in export.text
