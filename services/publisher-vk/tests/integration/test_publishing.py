"""publisher-vk against the sandbox's VK API, over a real broker and database."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from .harness import Commands, LeaseServer, Results, vk_user_of

pytestmark = pytest.mark.usefixtures("publisher")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def posts_of(vk: httpx.Client) -> list[dict[str, Any]]:
    return list(vk.get("/posts").json()["posts"])


async def test_a_video_post_lands_on_the_accounts_wall_once_with_identical_bytes(
    commands: Commands, results: Results, vk: httpx.Client, make_file: Callable[..., Path]
) -> None:
    video = make_file(300_000)
    command = commands.command(video=video, message="Our new video\nmore words")
    await commands.send(command)
    result = await results.final(command.target_id)
    assert result.type == "published", result
    owner = vk_user_of(command.account_id)
    (post,) = posts_of(vk)
    assert post["owner_id"] == owner
    assert post["message"] == "Our new video\nmore words"
    assert post["guid"] == str(command.target_id)
    assert [f["sha256"] for f in post["files"]] == [sha(video)]
    assert result.remote_url == f"https://vk.com/wall{owner}_{post['post_id']}"


async def test_a_photo_post_attaches_every_image_in_order(
    commands: Commands, results: Results, vk: httpx.Client, make_file: Callable[..., Path]
) -> None:
    images = [make_file(20_000 + i, image=True) for i in range(3)]
    command = commands.command(images=images, message="Three photos")
    await commands.send(command)
    assert (await results.final(command.target_id)).type == "published"
    (post,) = posts_of(vk)
    assert [f["sha256"] for f in post["files"]] == [sha(p) for p in images]
    assert all(a.startswith("photo") for a in post["attachments"])


async def test_an_article_goes_up_as_plain_text_with_its_cover_and_spelled_out_links(
    commands: Commands, results: Results, vk: httpx.Client, make_file: Callable[..., Path]
) -> None:
    cover = make_file(10_000, image=True)
    body = '<p>Read <a href="https://example.com/x">the study</a>, <b>now</b>.</p><p>End.</p>'
    command = commands.command(article=("A title", body, cover))
    await commands.send(command)
    assert (await results.final(command.target_id)).type == "published"
    (post,) = posts_of(vk)
    assert post["message"] == "A title\n\nRead the study (https://example.com/x), now.\n\nEnd."
    assert [f["sha256"] for f in post["files"]] == [sha(cover)]


async def test_a_community_the_client_administers_gets_the_post_from_the_community(
    commands: Commands, results: Results, vk: httpx.Client, make_file: Callable[..., Path]
) -> None:
    account = uuid.uuid4()
    vk.post("/communities", json={"id": 4242, "admins": [str(vk_user_of(account))]})
    command = commands.command(
        account_id=account, images=[make_file(5000, image=True)], owner_id=-4242
    )
    await commands.send(command)
    result = await results.final(command.target_id)
    assert result.type == "published", result
    (post,) = posts_of(vk)
    assert (post["owner_id"], post["from_group"]) == (-4242, True)


async def test_a_community_the_client_does_not_administer_fails_with_what_to_do(
    commands: Commands, results: Results, vk: httpx.Client
) -> None:
    command = commands.command(owner_id=-777, message="hello")
    await commands.send(command)
    result = await results.final(command.target_id)
    assert (result.type, result.code) == ("failed", "community_not_administered")
    assert "the community -777 (vk.com/club777)" in (result.reason or "")
    assert "administrator" in (result.reason or "")
    assert posts_of(vk) == []


async def test_an_upload_to_a_community_the_client_does_not_administer_names_the_community(
    commands: Commands, results: Results, vk: httpx.Client, make_file: Callable[..., Path]
) -> None:
    command = commands.command(owner_id=-778, images=[make_file(5000, image=True)])
    await commands.send(command)
    result = await results.final(command.target_id)
    assert (result.type, result.code) == ("failed", "community_not_administered")
    assert "the community -778 (vk.com/club778)" in (result.reason or "")
    assert "Reconnect" not in (result.reason or "")
    assert posts_of(vk) == []


async def test_error_6_is_waited_out_and_the_post_goes_up_once(
    commands: Commands, results: Results, vk: httpx.Client
) -> None:
    vk.post("/faults", json={"method": "wall.post", "code": 6, "times": 2})
    command = commands.command(message="after a rate limit")
    await commands.send(command)
    assert (await results.final(command.target_id)).type == "published"
    assert len(posts_of(vk)) == 1


async def test_a_captcha_fails_the_post_with_a_reason_a_person_can_act_on(
    commands: Commands, results: Results, vk: httpx.Client
) -> None:
    vk.post("/faults", json={"method": "wall.post", "code": 14})
    command = commands.command(message="captcha")
    await commands.send(command)
    result = await results.final(command.target_id)
    assert (result.type, result.code) == ("failed", "captcha_required")
    assert "captcha" in (result.reason or "")


async def test_flood_control_goes_back_to_the_queue_with_a_wait(
    commands: Commands, results: Results, vk: httpx.Client
) -> None:
    vk.post("/faults", json={"method": "wall.post", "code": 9})
    command = commands.command(message="flood")
    await commands.send(command)
    result = await results.final(command.target_id)
    assert (result.type, result.code) == ("retryable", "rate_limited")
    assert 60 <= (result.retry_after_s or 0) < 61  # in full, ending on a whole second


async def test_a_missing_photos_right_asks_to_reconnect(
    commands: Commands,
    results: Results,
    vk: httpx.Client,
    lease_server: LeaseServer,
    make_file: Callable[..., Path],
) -> None:
    account = uuid.uuid4()
    lease_server.scopes[str(account)] = ["vkid.personal_info", "wall", "video"]
    command = commands.command(account_id=account, images=[make_file(5000, image=True)])
    await commands.send(command)
    result = await results.final(command.target_id)
    assert (result.type, result.code) == ("failed", "permission_missing")
    assert "Reconnect VK" in (result.reason or "")


async def test_an_expired_token_is_refreshed_once_and_the_post_goes_up(
    commands: Commands, results: Results, vk: httpx.Client, lease_server: LeaseServer
) -> None:
    account = uuid.uuid4()
    warm = commands.command(account_id=account, message="first")
    await commands.send(warm)
    assert (await results.final(warm.target_id)).type == "published"
    lease_server.expire(account)
    before = lease_server.force_refreshes
    command = commands.command(account_id=account, message="after expiry")
    await commands.send(command)
    assert (await results.final(command.target_id)).type == "published"
    assert lease_server.force_refreshes == before + 1


async def test_a_token_vk_refuses_even_after_the_forced_refresh_marks_the_account_at_auth(
    commands: Commands, results: Results, vk: httpx.Client, lease_server: LeaseServer
) -> None:
    """Issue 10: the queue paused the post "Reconnect VK" while the accounts list showed
    the account ``ok``: auth is told, so the account shows it too."""
    vk.post("/faults", json={"method": "wall.post", "code": 5, "times": 3})
    command = commands.command(message="a dead token")
    await commands.send(command)
    result = await results.final(command.target_id)
    assert (result.type, result.reauth_required) == ("failed", True), result
    assert lease_server.rejected == [str(command.account_id)]
    assert posts_of(vk) == []


async def test_a_redelivered_command_answers_published_without_a_second_post(
    commands: Commands, results: Results, vk: httpx.Client
) -> None:
    command = commands.command(message="once")
    await commands.send(command)
    assert (await results.final(command.target_id)).type == "published"
    await commands.send(command.model_copy(update={"reconcile": True}))
    deadline = time.monotonic() + 20
    while len(results.finals(command.target_id)) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert [r.type for r in results.finals(command.target_id)] == ["published", "published"]
    (post,) = posts_of(vk)
    owner = vk_user_of(command.account_id)
    wall_id = f"{owner}_{post['post_id']}"
    # an own-wall post is queued with no owner_id: the replay names the user's wall, not "0_N"
    assert [(r.remote_id, r.remote_url) for r in results.finals(command.target_id)] == [
        (wall_id, f"https://vk.com/wall{wall_id}")
    ] * 2


async def test_a_retry_after_the_client_changed_the_images_uploads_the_new_ones_not_the_old(
    commands: Commands, results: Results, vk: httpx.Client, make_file: Callable[..., Path]
) -> None:
    """The attachments uploaded by a failed attempt were reused by the next one, whatever
    its files: a post whose images the client changed after a failure (PATCH on a failed
    target, then Retry) went up with the old images."""
    old = [make_file(30_000 + i, image=True) for i in range(2)]
    new = [make_file(40_000 + i, image=True) for i in range(2)]
    vk.post("/faults", json={"method": "wall.post", "code": 14})
    first = commands.command(images=old, message="photos")
    await commands.send(first)
    assert (await results.final(first.target_id)).code == "captcha_required"
    again = first.model_copy(
        update={"attempt": 2, "images": tuple(commands.ref(p, "image/png") for p in new)}
    )
    await commands.send(again)
    deadline = time.monotonic() + 30
    while len(results.finals(first.target_id)) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert results.finals(first.target_id)[-1].type == "published"
    (post,) = posts_of(vk)
    assert [f["sha256"] for f in post["files"]] == [sha(p) for p in new]
    # the same attempt delivered twice still reuses what it uploaded (no change)
    assert len(post["attachments"]) == 2


async def test_attachments_vk_refuses_are_uploaded_again_by_the_retry(
    commands: Commands, results: Results, vk: httpx.Client, make_file: Callable[..., Path]
) -> None:
    """A failed attempt's attachments were kept whatever VK said of them: when VK refused
    them (error 100, the files deleted on VK's side), every Retry sent the same dead ones."""
    images = [make_file(50_000 + i, image=True) for i in range(2)]
    vk.post("/faults", json={"method": "wall.post", "code": 100})
    first = commands.command(images=images, message="photos")
    await commands.send(first)
    refused = await results.final(first.target_id)
    assert (refused.type, refused.code) == ("failed", "platform_rejected")
    assert "Retry uploads the files again" in (refused.reason or "")
    await commands.send(first.model_copy(update={"attempt": 2}))
    deadline = time.monotonic() + 30
    while len(results.finals(first.target_id)) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert results.finals(first.target_id)[-1].type == "published"
    uploads = [c for c in vk.get("/posts").json()["calls"] if c == "photos.saveWallPhoto"]
    assert len(uploads) == 4  # two images, uploaded by each attempt
