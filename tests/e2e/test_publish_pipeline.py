"""End to end: sign in → upload a video → queue it → published on TikTok and YouTube.

Everything runs as `make dev` runs it (gateway, auth, queue, both
publishers, notifier, sandbox, a real broker); only the platforms are fakes.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cachalot_queue.media_store import stored_name
from cachalot_testing.clients import upload_media
from cachalot_testing.media import image_file, video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

VIDEO = video_file()
PHOTO = image_file()


def _sign_in(client: httpx.Client, stack: EmbeddedStack, platform: str, oauth: str) -> None:
    """Follow the real redirect chain; the sandbox's consent page answers Allow."""
    httpx.post(
        f"{stack.sandbox}/sandbox/oauth/{oauth}/config", json={"auto_consent": 1}, timeout=5
    ).raise_for_status()
    response = client.get(f"{stack.gateway}/api/v1/auth/{platform}/login", params={"next": "/"})
    assert response.status_code == 200, response.text
    assert f"connected={platform}" in str(response.url), str(response.url)


@pytest.fixture(scope="module")
def client(stack: EmbeddedStack) -> Iterator[httpx.Client]:
    """A signed-in client with TikTok and YouTube connected and consent given."""
    with httpx.Client(follow_redirects=True, timeout=30) as http:
        _sign_in(http, stack, "tiktok", "tiktok")
        consent = http.post(
            f"{stack.gateway}/api/v1/me/consent",
            json={"adult": True, "email": f"ann-{uuid.uuid4().hex[:6]}@example.com"},
        )
        assert consent.status_code == 200, consent.text
        _sign_in(http, stack, "youtube", "google")
        yield http


def _accounts(client: httpx.Client, stack: EmbeddedStack) -> dict[str, str]:
    response = client.get(f"{stack.gateway}/api/v1/accounts")
    assert response.status_code == 200, response.text
    return {a["platform"]: a["id"] for a in response.json()}


def _create_post(
    client: httpx.Client, stack: EmbeddedStack, body: dict[str, Any], key: str
) -> httpx.Response:
    """Create, waiting for the queue to learn the accounts from accounts.v1."""
    deadline = time.monotonic() + 30
    while True:
        response = client.post(
            f"{stack.gateway}/api/v1/posts", json=body, headers={"Idempotency-Key": key}
        )
        if response.status_code in (200, 201) or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


def _wait_for(
    client: httpx.Client, stack: EmbeddedStack, post_id: str, done: set[str], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    post: dict[str, Any] = {}
    while time.monotonic() < deadline:
        post = client.get(f"{stack.gateway}/api/v1/posts/{post_id}").json()
        if all(t["status"] in done for t in post["targets"]):
            return post
        time.sleep(0.3)
    raise AssertionError(f"post never reached {done}: {post}")


@pytest.mark.layouts("embedded", "distributed")
def test_a_queued_video_is_published_on_tiktok_and_youtube_with_identical_bytes(
    client: httpx.Client, stack: EmbeddedStack
) -> None:
    accounts = _accounts(client, stack)
    assert {"tiktok", "youtube"} <= set(accounts)
    sha256 = hashlib.sha256(VIDEO.read_bytes()).hexdigest()
    # The sandbox is shared by the session: other tests publish this sample too; count ours.
    tiktok_before, youtube_before = _published_counts(stack, sha256)
    media = upload_media(client, stack.gateway, VIDEO.read_bytes())
    assert media["sha256"] == sha256

    marker = uuid.uuid4().hex[:8]
    body = {
        "media_id": media["id"],
        "targets": [
            {
                "account_id": accounts["tiktok"],
                "tiktok": {"privacy_level": "SELF_ONLY", "caption": f"whale {marker} 🐋"},
            },
            {"account_id": accounts["youtube"], "youtube": {"title": f"Whale {marker}"}},
        ],
    }
    key = str(uuid.uuid4())
    created = _create_post(client, stack, body, key)
    assert created.status_code == 201, created.text
    again = _create_post(client, stack, body, key)
    assert again.json()["id"] == created.json()["id"], "Idempotency-Key made a second post"

    post = _wait_for(client, stack, created.json()["id"], {"published", "failed"})
    statuses = {t["platform"]: (t["status"], t["last_error"]) for t in post["targets"]}
    assert statuses == {"tiktok": ("published", None), "youtube": ("published", None)}
    assert all(t["remote_id"] for t in post["targets"])

    assert _published_counts(stack, sha256) == (tiktok_before + 1, youtube_before + 1)


def _published_counts(stack: EmbeddedStack, sha256: str) -> tuple[int, int]:
    """How many times the sandbox TikTok and YouTube have published a file with this SHA-256."""
    tiktok = httpx.get(f"{stack.sandbox}/sandbox/tiktok/posts", timeout=5).json()
    youtube = httpx.get(f"{stack.sandbox}/sandbox/youtube/videos", timeout=5).json()
    youtube_hashes = [v["sha256"] for v in youtube["videos"]]
    return int(tiktok["counts_by_sha256"].get(sha256, 0)), youtube_hashes.count(sha256)


def _iso(at: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int((at % 1) * 1000):03d}+00:00"
    )


def test_a_post_scheduled_ahead_is_dispatched_on_time(
    client: httpx.Client, stack: EmbeddedStack
) -> None:
    """Not before its time, and within a few seconds after it (the scheduler wakes at the
    due time; a loaded two-core machine may add a second or two)."""
    accounts = _accounts(client, stack)
    media = upload_media(client, stack.gateway, VIDEO.read_bytes())
    when = time.time() + 4
    body = {
        "media_id": media["id"],
        "scheduled_at": _iso(when),
        "targets": [{"account_id": accounts["youtube"], "youtube": {"title": "Later"}}],
    }
    created = _create_post(client, stack, body, str(uuid.uuid4()))
    assert created.status_code == 201, created.text
    left_scheduled: float | None = None
    deadline = time.monotonic() + 60
    post: dict[str, Any] = {}
    while time.monotonic() < deadline:
        post = client.get(f"{stack.gateway}/api/v1/posts/{created.json()['id']}").json()
        status = post["targets"][0]["status"]
        if status != "scheduled" and left_scheduled is None:
            left_scheduled = time.time()
        if status in ("published", "failed"):
            break
        time.sleep(0.05)
    assert post["targets"][0]["status"] == "published", post
    assert left_scheduled is not None
    assert left_scheduled >= when - 0.25, f"dispatched {when - left_scheduled:.2f} s early"
    assert left_scheduled <= when + 5, f"dispatched {left_scheduled - when:.2f} s late"


def test_a_post_cancelled_before_its_time_is_never_published(
    client: httpx.Client, stack: EmbeddedStack
) -> None:
    """Cancelled 3 s before its time; a marker post on the same account due after it is
    published, and only then is the cancelled one checked (absence shown past its time)."""
    accounts = _accounts(client, stack)
    media = upload_media(client, stack.gateway, VIDEO.read_bytes())
    tag = uuid.uuid4().hex[:8]
    due = time.time() + 3
    cancelled_body = {
        "media_id": media["id"],
        "scheduled_at": _iso(due),
        "targets": [
            {
                "account_id": accounts["tiktok"],
                "tiktok": {"privacy_level": "SELF_ONLY", "caption": f"never {tag}"},
            }
        ],
    }
    marker_body = {
        "media_id": media["id"],
        "scheduled_at": _iso(due + 1),
        "targets": [
            {
                "account_id": accounts["tiktok"],
                "tiktok": {"privacy_level": "SELF_ONLY", "caption": f"marker {tag}"},
            }
        ],
    }
    created = _create_post(client, stack, cancelled_body, str(uuid.uuid4()))
    assert created.status_code == 201, created.text
    cancelled = client.post(f"{stack.gateway}/api/v1/posts/{created.json()['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    marker = _create_post(client, stack, marker_body, str(uuid.uuid4()))
    assert marker.status_code == 201, marker.text
    done = _wait_for(client, stack, marker.json()["id"], {"published", "failed"})
    assert done["targets"][0]["status"] == "published"
    assert time.time() > due
    post = client.get(f"{stack.gateway}/api/v1/posts/{created.json()['id']}").json()
    assert post["targets"][0]["status"] == "cancelled"
    titles = [
        p["post_info"].get("title", "")
        for p in httpx.get(f"{stack.sandbox}/sandbox/tiktok/posts", timeout=5).json()["posts"]
    ]
    assert f"marker {tag}" in titles
    assert f"never {tag}" not in titles


def test_another_client_cannot_see_the_post(client: httpx.Client, stack: EmbeddedStack) -> None:
    mine = client.get(f"{stack.gateway}/api/v1/posts").json()["items"]
    assert mine
    with httpx.Client(follow_redirects=True, timeout=30) as stranger:
        httpx.post(
            f"{stack.sandbox}/sandbox/oauth/vk/config", json={"auto_consent": 1}, timeout=5
        ).raise_for_status()
        response = stranger.get(f"{stack.gateway}/api/v1/auth/vk/login", params={"next": "/"})
        assert "connected=vk" in str(response.url)
        assert stranger.get(f"{stack.gateway}/api/v1/posts").json()["items"] == []
        foreign = stranger.get(f"{stack.gateway}/api/v1/posts/{mine[0]['id']}")
        assert foreign.status_code == 404


def test_the_client_exports_everything_then_erases_it(
    client: httpx.Client, stack: EmbeddedStack
) -> None:
    """Last in this module: the archive holds auth's and the queue's parts, every file the
    client keeps (videos and images: each stored under its own type's name); erasure wipes
    both."""
    photo = upload_media(client, stack.gateway, PHOTO.read_bytes(), "image/jpeg")
    archive = client.get(f"{stack.gateway}/api/v1/me/export")
    assert archive.status_code == 200, archive.text
    export = archive.json()
    assert {a["platform"] for a in export["accounts"]} >= {"tiktok", "youtube"}
    assert export["posts"], "the posts are part of the archive"
    assert any(t["remote_url"] for p in export["posts"] for t in p["targets"])
    assert photo["id"] in {m["id"] for m in export["media"]}
    assert {m["content_type"] for m in export["media"]} >= {"video/mp4", "image/jpeg"}
    files = [
        stack.var_dir / "media" / stored_name(m["id"], m["content_type"]) for m in export["media"]
    ]
    missing = [f.name for f in files if not f.exists()]
    assert not missing, f"the archive names files the store does not hold: {missing}"

    assert client.delete(f"{stack.gateway}/api/v1/me").status_code == 204
    assert client.get(f"{stack.gateway}/api/v1/posts").status_code == 401
    deadline = time.monotonic() + 30
    while any(f.exists() for f in files):  # auth → accounts.v1 "deleted" → the queue erases
        assert time.monotonic() < deadline, "the queue kept the erased client's files"
        time.sleep(0.2)
