"""End to end, issue 10: a video, a photo post and an article to a VK wall, as `make dev` runs it.

Each post carries a unique tag in its text, so the sandbox's record of wall
posts (text and the SHA-256 of each attached file) proves the bytes and
counts the posts.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cachalot_testing.clients import connect_account, create_post, upload_media
from cachalot_testing.media import image_file, video_bytes
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e


def _connect_vk(http: httpx.Client, gateway: str, user: str) -> dict[str, Any]:
    """Connect sandbox ``user``'s vk account (consent given); the account as listed."""
    account_id = connect_account(http, gateway, "vk", user)
    accounts = http.get(f"{gateway}/api/v1/accounts").json()
    return dict(next(a for a in accounts if a["id"] == account_id))


@pytest.fixture(scope="module")
def vk(stack: EmbeddedStack) -> Iterator[tuple[httpx.Client, dict[str, Any]]]:
    """A signed-in client with a VK account connected and consent given."""
    with httpx.Client(timeout=30) as http:
        # VK user ids are numbers: the sandbox's second VK user (the first signs in elsewhere)
        yield http, _connect_vk(http, stack.gateway, "100000002")


def _wall(stack: EmbeddedStack, tag: str) -> list[dict[str, Any]]:
    posts = httpx.get(f"{stack.sandbox}/sandbox/vk/posts", timeout=10).json()["posts"]
    return [p for p in posts if tag in p["message"]]


def _finished(http: httpx.Client, stack: EmbeddedStack, post_id: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    post: dict[str, Any] = {}
    while time.monotonic() < deadline:
        post = http.get(f"{stack.gateway}/api/v1/posts/{post_id}").json()
        if post["targets"][0]["status"] in ("published", "failed"):
            return post["targets"][0]
        time.sleep(0.3)
    raise AssertionError(f"post never finished: {post}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_video_a_photo_post_and_an_article_each_reach_the_wall_once_with_identical_bytes(
    vk: tuple[httpx.Client, dict[str, Any]], stack: EmbeddedStack
) -> None:
    http, account = vk
    tag = uuid.uuid4().hex[:8]
    video = video_bytes()
    images = [image_file(colour=c).read_bytes() for c in ("0x112233", "0x445566")]
    video_id = upload_media(http, stack.gateway, video)["id"]
    image_ids = [upload_media(http, stack.gateway, b, "image/jpeg")["id"] for b in images]
    target = {"account_id": account["id"]}
    posts = {
        "video": create_post(
            http,
            stack.gateway,
            {"media_id": video_id, "targets": [target | {"vk": {"message": f"video {tag}"}}]},
        ),
        "photo": create_post(
            http,
            stack.gateway,
            {
                "kind": "photo",
                "image_ids": image_ids,
                "targets": [target | {"vk": {"message": f"photos {tag}"}}],
            },
        ),
        "article": create_post(
            http,
            stack.gateway,
            {
                "kind": "article",
                "article": {
                    "title": f"Article {tag}",
                    "body_html": '<p>Read <a href="https://example.com/a">this</a>.</p>',
                    "cover_media_id": image_ids[0],
                },
                "targets": [target],
            },
        ),
    }
    for kind, post_id in posts.items():
        finished = _finished(http, stack, post_id)
        assert finished["status"] == "published", (kind, finished)
        assert finished["remote_url"].startswith("https://vk.com/wall")
    (video_post,) = _wall(stack, f"video {tag}")
    assert [f["sha256"] for f in video_post["files"]] == [_sha(video)]
    (photo_post,) = _wall(stack, f"photos {tag}")
    assert [f["sha256"] for f in photo_post["files"]] == [_sha(b) for b in images]
    (article,) = _wall(stack, f"Article {tag}")
    assert article["message"] == f"Article {tag}\n\nRead this (https://example.com/a)."
    assert [f["sha256"] for f in article["files"]] == [_sha(images[0])]


def test_a_kind_or_a_limit_vk_refuses_is_named_when_the_post_is_queued(
    vk: tuple[httpx.Client, dict[str, Any]], stack: EmbeddedStack
) -> None:
    http, account = vk
    refused = http.post(
        f"{stack.gateway}/api/v1/posts",
        json={
            "kind": "article",
            "article": {"title": "t", "body_html": "<p>" + "word " * 4000 + "</p>"},
            "targets": [{"account_id": account["id"]}],
        },
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["article.body_html"]
    assert "16384" in refused.json()["errors"][0]["message"]


def _community(stack: EmbeddedStack, group_id: int, admins: list[str]) -> None:
    httpx.post(
        f"{stack.sandbox}/sandbox/vk/communities",
        json={"id": group_id, "admins": admins, "name": f"Community {group_id}"},
        timeout=10,
    ).raise_for_status()


def _post_as(
    http: httpx.Client, stack: EmbeddedStack, account: dict[str, Any], owner: int, tag: str
) -> httpx.Response:
    media = upload_media(
        http, stack.gateway, image_file(colour="0x778899").read_bytes(), "image/jpeg"
    )
    return http.post(
        f"{stack.gateway}/api/v1/posts",
        json={
            "kind": "photo",
            "image_ids": [media["id"]],
            "targets": [
                {
                    "account_id": account["id"],
                    "vk": {"message": tag} | ({"owner_id": owner} if owner else {}),
                }
            ],
        },
    )


def _answered(send: Any, status: int, timeout: float = 20) -> httpx.Response:
    """``send()`` again until it answers ``status`` (the queue learns of a reconnect from
    auth's accounts.v1, a moment after the sign-in); the last answer otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        response: httpx.Response = send()
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.3)


def test_a_community_the_person_does_not_run_is_refused_when_queued_and_one_they_run_is_posted_to(
    vk: tuple[httpx.Client, dict[str, Any]], stack: EmbeddedStack
) -> None:
    """What VK's groups.get filter=admin said at sign-in decides, refreshed by a reconnect."""
    http, account = vk
    base = 7_100_000 + int(uuid.uuid4().hex[:4], 16)
    ours, theirs = base, base + 1
    _community(stack, ours, [account["platform_user_id"]])
    _community(stack, theirs, ["100000001"])
    account = _connect_vk(http, stack.gateway, account["platform_user_id"])  # a reconnect
    tag = uuid.uuid4().hex[:8]
    accepted = _answered(lambda: _post_as(http, stack, account, -ours, f"ours {tag}"), 201)
    assert accepted.status_code == 201, accepted.text
    finished = _finished(http, stack, accepted.json()["id"])
    assert finished["status"] == "published", finished
    [posted] = _wall(stack, f"ours {tag}")
    assert posted["owner_id"] == -ours

    refused = _post_as(http, stack, account, -theirs, f"theirs {tag}")
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "targets[0].vk.owner_id"
    assert str(theirs) in error["message"]
    assert _wall(stack, f"theirs {tag}") == []


def test_a_community_the_person_stopped_running_after_connecting_fails_naming_it(
    vk: tuple[httpx.Client, dict[str, Any]], stack: EmbeddedStack
) -> None:
    """Fix 3 of the fresh-user try: VK errors 214 / 15 for a community become
    ``community_not_administered`` naming the community, not a request for rights."""
    http, account = vk
    group = 7_200_000 + int(uuid.uuid4().hex[:4], 16)
    _community(stack, group, [account["platform_user_id"]])
    account = _connect_vk(http, stack.gateway, account["platform_user_id"])
    _community(stack, group, ["100000001"])  # demoted on VK after connecting
    tag = uuid.uuid4().hex[:8]
    queued = _answered(lambda: _post_as(http, stack, account, -group, f"demoted {tag}"), 201)
    assert queued.status_code == 201, queued.text  # as far as we knew, they ran it
    finished = _finished(http, stack, queued.json()["id"])
    assert (finished["status"], finished["last_error_code"]) == (
        "failed",
        "community_not_administered",
    ), finished
    assert f"vk.com/club{group}" in finished["last_error"]
    assert "reconnect" not in finished["last_error"].lower()
    assert _wall(stack, f"demoted {tag}") == []


def test_a_target_that_fails_for_good_tells_the_operator_exactly_once(
    vk: tuple[httpx.Client, dict[str, Any]], stack: EmbeddedStack
) -> None:
    """Fix 5 of the fresh-user try: the queue's own notice duplicated the notifier's (which
    reads posts.status.v1); one Telegram message to the operator per failed target now."""
    http, account = vk
    httpx.post(
        f"{stack.sandbox}/sandbox/vk/faults",
        json={"method": "wall.post", "code": 14},
        timeout=10,
    ).raise_for_status()
    tag = uuid.uuid4().hex[:8]
    queued = _post_as(http, stack, account, 0, f"captcha {tag}")
    assert queued.status_code == 201, queued.text
    finished = _finished(http, stack, queued.json()["id"])
    assert finished["status"] == "failed", finished
    assert "captcha" in finished["last_error"].lower()

    def told() -> list[dict[str, Any]]:
        body = httpx.get(f"{stack.sandbox}/sandbox/telegram/messages", timeout=5).json()
        return [m for m in body["messages"] if finished["id"] in m["text"]]

    deadline = time.monotonic() + 15
    while not told() and time.monotonic() < deadline:
        time.sleep(0.3)
    time.sleep(3.0)  # a second notice (the queue's old duplicate) would arrive by now
    [message] = told()
    assert message["text"].startswith("Post failed on VK")
