"""publisher-instagram against the sandbox's Instagram, on Tansu and PostgreSQL, as a process.

Photo posts here (one image, and a carousel); Reels, container errors, the
quota and a kill -9 run end to end in tests/e2e/test_instagram.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cachalot_common.events import PublishPost, PublishResult
from cachalot_testing.processes import ServiceProcess

from .harness import SCOPES, Commands, Results, sha256_of, user_of

pytestmark = pytest.mark.integration


def published(graph: httpx.Client, *paths: Path) -> list[dict[str, Any]]:
    """The sandbox's published media whose items are exactly these files, in order."""
    wanted = [sha256_of(p) for p in paths]
    media = graph.get("/media").json()["media"]
    return [m for m in media if [i["sha256"] for i in m["items"]] == wanted]


async def test_a_single_image_is_published_once_with_identical_bytes(
    publisher: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    media: Callable[[str], Path],
) -> None:
    image = media("red.jpg")
    command = commands.command(image, caption="one #image")
    await commands.send(command)
    result = await results.wait(command.target_id, "published", "failed")
    assert result.type == "published", result.reason
    (post,) = published(graph, image)
    assert (post["media_type"], post["caption"]) == ("IMAGE", "one #image")
    assert post["owner"] == user_of(str(command.account_id))
    assert (result.remote_id, result.remote_url) == (post["id"], post["permalink"])
    assert post["items"][0]["requests"] > 1, "fetched by ranges"


async def test_a_carousel_of_three_images_is_one_album_in_order_published_once(
    publisher: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    media: Callable[[str], Path],
) -> None:
    images = [media(f"{c}.jpg") for c in ("red", "green", "blue")]
    command = commands.command(*images, caption="three")
    await commands.send(command)
    result = await results.wait(command.target_id, "published", "failed")
    assert result.type == "published", result.reason
    (album,) = published(graph, *images)
    assert album["media_type"] == "CAROUSEL_ALBUM"
    assert result.remote_id == album["id"]
    calls = graph.get("/media").json()["publish_calls"]

    await commands.send(command)  # redelivered (a crash after publishing, a rebalance)
    await results.wait(command.target_id, "published", count=2)
    assert len(published(graph, *images)) == 1
    assert graph.get("/media").json()["publish_calls"] == calls, "nothing sent again"


async def test_a_png_is_refused_by_instagram_with_a_reason_to_convert_it_to_jpeg(
    publisher: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    media: Callable[[str], Path],
) -> None:
    command = commands.command(media("white.png"))
    await commands.send(command)
    result = await results.wait(command.target_id, "published", "failed")
    assert (result.type, result.code) == ("failed", "unsupported_image_format")
    assert result.reason is not None
    assert "JPEG" in result.reason


async def test_a_failed_fetch_tells_the_client_the_operator_knows_not_which_setting_to_check(
    publisher: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    media: Callable[[str], Path],
) -> None:
    graph.post("/faults", json={"kind": "fetch_fail", "times": 1}).raise_for_status()
    command = commands.command(media("green.jpg"))
    await commands.send(command)
    result = await results.wait(command.target_id, "published", "failed", "retryable")
    assert (result.type, result.code) == ("retryable", "media_fetch_failed")
    assert result.reason == (
        "Instagram could not fetch the media from our link; the operator has been told, and "
        "it will be tried again."
    )


async def test_a_command_without_a_media_link_fails_saying_which_setting_is_missing(
    publisher: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    media: Callable[[str], Path],
) -> None:
    before = len(graph.get("/media").json()["containers"])
    command = commands.command(media("reel-4s.mp4"), link=False)
    await commands.send(command)
    result = await results.wait(command.target_id, "published", "failed")
    assert (result.type, result.code) == ("failed", "media_link_missing")
    assert result.reason is not None
    assert "CACHALOT_PUBLIC_URL" in result.reason
    await asyncio.sleep(0.2)
    assert len(graph.get("/media").json()["containers"]) == before


async def test_a_long_processing_goes_back_to_the_queue_and_the_retry_polls_the_same_container(
    publisher: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    media: Callable[[str], Path],
) -> None:
    graph.post("/config", json={"processing_delay_s": 4})
    before = len(graph.get("/media").json()["containers"])
    image = media("green.jpg")
    command = commands.command(image)
    await commands.send(command)
    waited = await results.wait(command.target_id, "published", "failed", "retryable")
    assert (waited.type, waited.code) == ("retryable", "processing_timeout")
    assert waited.retry_after_s is not None
    await asyncio.sleep(waited.retry_after_s)
    await commands.send(command.model_copy(update={"attempt": 2}))  # as the queue retries
    done = await results.wait(command.target_id, "published", "failed", timeout=30)
    assert done.type == "published", done.reason
    assert len(graph.get("/media").json()["containers"]) == before + 1, "one container only"
    assert len(published(graph, image)) == 1


async def test_a_container_published_before_its_media_id_was_recorded_is_not_published_again(
    publisher: ServiceProcess,
    sandbox: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    media: Callable[[str], Path],
    database_url: str,
) -> None:
    """The crash window between ``media_publish`` and recording its answer."""
    image = media("blue.jpg")
    command = commands.command(image, caption="published, then the process died")
    token = httpx.post(
        f"{sandbox.base_url}/sandbox/tokens",
        json={
            "platform": "instagram",
            "subject": user_of(str(command.account_id)),
            "scopes": SCOPES,
        },
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{sandbox.base_url}/instagram", headers=auth) as ig:
        made = ig.post(
            "/me/media",
            data={"image_url": commands.links.link(image), "caption": command.options.caption},
        )  # type: ignore[union-attr]
        container = made.json()["id"]
        while (
            ig.get(f"/{container}", params={"fields": "status_code"}).json()["status_code"]
            != "FINISHED"
        ):
            await asyncio.sleep(0.05)
        media_id = ig.post("/me/media_publish", data={"creation_id": container}).json()["id"]
    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO instagram_containers (target_id, post_id, account_id, children, "
                "container_id, containers_created) VALUES (:t, :p, :a, '', :c, 1)"
            ),
            {
                "t": str(command.target_id),
                "p": str(command.post_id),
                "a": str(command.account_id),
                "c": container,
            },
        )
    await engine.dispose()
    calls = graph.get("/media").json()["publish_calls"]
    await commands.send(command)
    result = await results.wait(command.target_id, "published", "failed")
    assert result.type == "published", result.reason
    (post,) = published(graph, image)
    assert (result.remote_id, result.remote_url) == (media_id, post["permalink"])
    assert graph.get("/media").json()["publish_calls"] == calls


async def test_an_account_disconnected_while_its_media_is_processed_is_not_published(
    publisher: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    lease_server: Any,
    media: Callable[[str], Path],
) -> None:
    graph.post("/config", json={"processing_delay_s": 1.5})
    image = media("green.jpg")
    command = commands.command(image, caption="disconnected meanwhile")
    account = str(command.account_id)
    await commands.send(command)
    for _ in range(200):  # the container is being made with the account's first lease
        if any(call["account_id"] == account for call in lease_server.calls):
            break
        await asyncio.sleep(0.02)
    lease_server.reauth.add(account)  # auth: disconnected (its lease is refused from now on)
    try:
        result = await results.final(command.target_id)
    finally:
        lease_server.reauth.discard(account)
    assert (result.type, result.reauth_required) == ("failed", True), result.reason
    assert published(graph, image) == []
    asked = [call for call in lease_server.calls if call["account_id"] == account]
    assert len(asked) >= 2, "auth was asked again before media_publish"


async def test_a_retry_after_the_client_changed_the_caption_makes_a_new_container_for_it(
    publisher: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    media: Callable[[str], Path],
) -> None:
    """A container holds its media and caption; the next attempt reused it whatever the
    command said, so a post the client changed after a failure (PATCH on a failed target,
    then Retry) went up as it was before the change."""
    graph.post("/config", json={"processing_delay_s": 4})
    image = media("blue.jpg")
    command = commands.command(image, caption="before the change")
    await commands.send(command)
    waited = await results.wait(command.target_id, "published", "failed", "retryable")
    assert waited.type == "retryable", waited.reason
    graph.post("/config", json={"processing_delay_s": 0})
    options = command.options.model_copy(update={"caption": "after the change"})
    await commands.send(command.model_copy(update={"attempt": 2, "options": options}))
    done = await results.wait(command.target_id, "published", "failed", "retryable", count=2)
    assert done.type == "published", (done.code, done.reason)
    (post,) = published(graph, image)
    assert post["caption"] == "after the change"


async def test_a_retry_after_a_container_error_makes_a_new_container_and_publishes(
    publisher: ServiceProcess,
    commands: Commands,
    results: Results,
    graph: httpx.Client,
    media: Callable[[str], Path],
) -> None:
    """A container that ended in ERROR is spent: the client's Retry polled the same container
    again and failed again without asking Instagram for a new one, so a post whose container
    failed once could never succeed unless its content changed; a redelivery of the failed
    attempt still reads the recorded container and makes none."""
    seen = 0

    async def settled(command: PublishPost) -> tuple[PublishPost, PublishResult]:
        """The command's next final result, retried as the queue does while processing
        outlasts a delivery (a loaded machine): the same container, the next attempt."""
        nonlocal seen
        while True:
            seen += 1
            await commands.send(command)
            result = await results.wait(
                command.target_id, "published", "failed", "retryable", count=seen, timeout=60
            )
            if result.code != "processing_timeout":
                return command, result
            command = command.model_copy(update={"attempt": command.attempt + 1})

    graph.post("/faults", json={"kind": "error", "subcode": 2207026}).raise_for_status()
    before = len(graph.get("/media").json()["containers"])
    image = media("red.jpg")
    command, first = await settled(commands.command(image, caption="a retry after an error"))
    assert first.type == "failed", (first.code, first.reason)
    command, again = await settled(command)  # redelivered: the same attempt fails the same way
    assert (again.type, again.code) == ("failed", first.code)
    assert len(graph.get("/media").json()["containers"]) == before + 1, "no container made"
    retry = command.model_copy(update={"attempt": command.attempt + 1})  # the client's Retry
    _, done = await settled(retry)
    assert done.type == "published", (done.code, done.reason)
    assert len(graph.get("/media").json()["containers"]) == before + 2
    assert len(published(graph, image)) == 1
