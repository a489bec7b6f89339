"""Photo posts: publisher-tiktok against the sandbox TikTok, which pulls the images over
real HTTP from a tiny server standing in for the queue's signed media URLs."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_common.events import MediaRef, PublishPost, TikTokOptions
from cachalot_testing.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


class SignedUrls:
    """Serves files of the media store at URLs shaped like the gateway's signed ones."""

    def __init__(self, media_dir: Path) -> None:
        self.gets: list[str] = []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                served.gets.append(self.path)
                relative = self.path.removeprefix("/api/v1/media/").split("?")[0]
                path = media_dir / relative
                if "/" in relative or not path.is_file():
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.prefix = f"http://127.0.0.1:{self.server.server_port}/api/v1/media/"


@pytest.fixture(scope="module")
def signed_urls(media_dir: Path) -> Iterator[SignedUrls]:
    server = SignedUrls(media_dir)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()


@pytest.fixture
def verified(sbx: httpx.Client, signed_urls: SignedUrls) -> SignedUrls:
    """The sandbox trusts the signed URLs' prefix, as TikTok would once it is verified."""
    sbx.post("/sandbox/tiktok/config", json={"verified_url_prefixes": [signed_urls.prefix]})
    signed_urls.gets.clear()
    return signed_urls


@dataclass
class Image:
    ref: MediaRef
    body: bytes


def store_image(media_dir: Path, prefix: str | None, size: int = 4000) -> Image:
    body = b"\xff\xd8\xff\xe0" + os.urandom(size) + b"\xff\xd9"
    relative = f"{uuid.uuid4().hex}.jpg"
    (media_dir / relative).write_bytes(body)
    ref = MediaRef(
        media_id=uuid.uuid4(),
        path=relative,
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        content_type="image/jpeg",
        width=1080,
        height=1920,
        url=f"{prefix}{relative}?exp=9999999999&sig=test" if prefix is not None else None,
    )
    return Image(ref, body)


def photo_command(
    images: list[Image], *, account_id: uuid.UUID | None = None, **options: Any
) -> PublishPost:
    target_id = uuid.uuid4()
    return PublishPost(
        post_id=uuid.uuid4(),
        target_id=target_id,
        client_id=uuid.uuid4(),
        account_id=account_id or uuid.uuid4(),
        platform="tiktok",
        attempt=1,
        kind="photo",
        images=tuple(i.ref for i in images),
        options=TikTokOptions(
            **{
                "caption": "Days by the sea",
                "photo_title": "Trip",
                "photo_cover_index": 1,
                "privacy_level": "SELF_ONLY",
                **options,
            }
        ),
        grant=f"grant-of-{target_id}",
    )


def posts(sbx: httpx.Client) -> dict[str, Any]:
    return dict(sbx.get("/sandbox/tiktok/posts").json())


async def test_a_three_image_photo_post_is_published_once_with_identical_bytes(
    sbx, publisher, kafka, media_dir, verified
) -> None:
    images = [store_image(media_dir, verified.prefix, size) for size in (3000, 9000, 50_000)]
    command = photo_command(images, privacy_level="PUBLIC_TO_EVERYONE", auto_add_music=True)
    await kafka.send(command)
    result = await kafka.final(command.target_id)
    assert result.type == "published", result
    assert (result.remote_id or "").isdigit()
    assert (result.remote_url or "").endswith(f"/photo/{result.remote_id}")
    (post,) = posts(sbx)["posts"]
    assert [(i["sha256"], i["size"]) for i in post["images"]] == [
        (hashlib.sha256(i.body).hexdigest(), len(i.body)) for i in images
    ]
    assert post["post_info"]["title"] == "Trip"
    assert post["post_info"]["description"] == "Days by the sea"
    assert post["post_info"]["auto_add_music"] is True
    assert "disable_duet" not in post["post_info"]
    assert len(verified.gets) == 3


async def test_a_publisher_killed_while_tiktok_processes_photos_posts_exactly_once(
    sbx, publisher, kafka, media_dir, verified
) -> None:
    sbx.post("/sandbox/tiktok/config", json={"processing_delay_s": 4})
    images = [store_image(media_dir, verified.prefix) for _ in range(3)]
    command = photo_command(images)
    await kafka.send(command)
    deadline = time.monotonic() + 60
    while not posts(sbx)["publishes"]:
        if time.monotonic() > deadline:
            pytest.fail("the photo post was never started")
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # the publish_id is recorded right after init answers
    publisher.kill()
    publisher.start(timeout=120)
    result = await kafka.final(command.target_id, timeout=90)
    assert result.type == "published", result
    # counted after a marker of the same account (same partition, after any redelivery)
    sbx.post("/sandbox/tiktok/config", json={"processing_delay_s": 0})
    marker = photo_command(
        [store_image(media_dir, verified.prefix) for _ in range(2)],
        account_id=command.account_id,
    )
    await kafka.send(marker)
    assert (await kafka.final(marker.target_id, timeout=60)).type == "published"
    state = posts(sbx)
    assert len(state["publishes"]) == 2, "the restarted publisher must not init again"
    assert len(state["posts"]) == 2


async def test_an_unreachable_image_url_goes_back_to_the_queue_to_be_tried_again(
    sbx, publisher, kafka, media_dir
) -> None:
    """TikTok's ``photo_pull_failed`` says nothing of why (a 5xx for a moment, or an address
    never reachable): retried as Instagram's failed fetch is, the queue's budget bounding it."""
    nobody = f"http://127.0.0.1:{free_port()}/api/v1/media/"
    sbx.post("/sandbox/tiktok/config", json={"verified_url_prefixes": [nobody]})
    command = photo_command([store_image(media_dir, nobody) for _ in range(2)])
    await kafka.send(command)
    result = await kafka.final(command.target_id)
    assert (result.type, result.code) == ("retryable", "photo_pull_failed"), result
    assert "tried again" in (result.reason or "")
    assert posts(sbx)["posts"] == []


async def test_images_without_a_signed_url_are_retried_without_calling_tiktok(
    sbx, publisher, kafka, media_dir
) -> None:
    command = photo_command([store_image(media_dir, None) for _ in range(2)])
    await kafka.send(command)
    result = await kafka.final(command.target_id)
    assert (result.type, result.code) == ("retryable", "media_url_missing"), result
    assert result.reason == "The queue gave no URL for TikTok to fetch the photo from; will retry."
    assert posts(sbx)["publishes"] == []
