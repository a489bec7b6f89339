"""Signed, expiring media links for platforms that fetch media (issue 10 item 2).

The queue serves each file of an Instagram post at
``/media/v1/<id>/<expires>/<signature>`` and puts that link in the command;
ranges work, and an expired, tampered, deleted or erased link is one 404.
The access log keeps the path but never the signature.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from queue_support import VIDEO as VIDEO_OF_QUEUE_TESTS
from queue_support import QueueServer, Recorder, eventually, now, own_queue
from sqlalchemy import delete

from cachalot_queue.media_links import NOT_FOUND, MediaLinks
from cachalot_queue.tables import Media
from cachalot_testing.media import image_file, video_file

pytestmark = pytest.mark.integration

VIDEO = VIDEO_OF_QUEUE_TESTS  # what ApiClient.upload() sends by default
REEL = video_file(seconds=4).read_bytes()
COVER = image_file(colour="0x204060").read_bytes()  # Reels are 3 s to 15 min at 23–60 fps
PUBLIC = "https://cachalot.example"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def queue(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[QueueServer]:
    async with own_queue(
        request, kafka_bootstrap, kafka_idempotence, tmp_path_factory, "links", public_url=PUBLIC
    ) as server:
        yield server
    await server.kafka.stop()


@pytest.fixture
def access_log() -> Iterator[list[str]]:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("cachalot.access")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def links(queue: QueueServer, *, ago_s: float = 0, ttl_s: float = 3600) -> MediaLinks:
    settings = queue.runtime.settings
    return MediaLinks(
        key=settings.media_link_key_bytes(),
        public_url=PUBLIC,
        ttl_s=ttl_s,
        clock=lambda: now() - timedelta(seconds=ago_s),
    )


def local(queue: QueueServer, link: str) -> str:
    assert link.startswith(PUBLIC + "/media/v1/")
    return queue.base_url + urlsplit(link).path


async def test_a_signed_link_serves_the_file_with_its_type_ranges_and_validators(
    queue: QueueServer, access_log: list[str]
) -> None:
    media = await queue.client().upload()
    link = local(queue, links(queue).url(uuid.UUID(media["id"])))
    async with httpx.AsyncClient() as http:
        whole = await http.get(link)
        assert whole.status_code == 200
        assert whole.content == VIDEO
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["etag"]
        assert whole.headers["last-modified"]
        assert "no-store" in whole.headers["cache-control"]
        part = await http.get(link, headers={"Range": "bytes=10-99"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 10-99/{len(VIDEO)}"
        assert part.content == VIDEO[10:100]
        tail = await http.get(link, headers={"Range": "bytes=-16"})
        assert tail.content == VIDEO[-16:]
        past = await http.get(link, headers={"Range": f"bytes={len(VIDEO) + 5}-"})
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{len(VIDEO)}"
        # RFC 9110 §14.2: a Range that does not parse is ignored, the whole file comes (not 400)
        for bad in ("bytes=abc", "bytes=5-1", "items=0-9", "bytes"):
            ignored = await http.get(link, headers={"Range": bad})
            assert (ignored.status_code, ignored.content) == (200, VIDEO), bad
            assert "content-range" not in ignored.headers
        head = await http.head(link)
        assert head.status_code == 200
        assert head.headers["content-length"] == str(len(VIDEO))
    signature = link.rsplit("/", 1)[1]
    await eventually(lambda: any("/media/v1/" in line for line in access_log), timeout=5)
    assert not [line for line in access_log if signature in line]
    assert any(f"/media/v1/{media['id']}/" in line and "***" in line for line in access_log)


async def test_a_range_is_read_by_our_own_check_as_rfc_9110_says(queue: QueueServer) -> None:
    """RFC 9110 §14.2 and §15.5.17: a range set with a satisfiable range serves it (206) even
    beside one past the end; 416 (``Content-Range: bytes */<size>``) only when none is; GET
    is the only method with range handling, so a HEAD's Range is ignored; an If-Range that
    does not match ignores the Range, even one that could not be satisfied."""
    media = await queue.client().upload()
    link = local(queue, links(queue).url(uuid.UUID(media["id"])))
    size = len(VIDEO)
    async with httpx.AsyncClient() as http:
        etag = (await http.head(link)).headers["etag"]
        mixed = await http.get(link, headers={"Range": f"bytes=0-9, {size + 5}-{size + 9}"})
        assert mixed.status_code == 206
        assert mixed.headers["content-range"] == f"bytes 0-9/{size}"
        assert mixed.content == VIDEO[:10]
        spaced = await http.get(link, headers={"Range": "bytes=0-1,, 4-5 ,"})
        assert spaced.status_code == 206  # empty list elements and spaces (RFC 9110 §5.6.1)
        assert spaced.headers["content-type"].startswith("multipart/byteranges")
        for none in (f"bytes={size}-", f"bytes={size + 5}-{size + 9}, -0"):
            answer = await http.get(link, headers={"Range": none})
            assert answer.status_code == 416, none
            assert answer.headers["content-range"] == f"bytes */{size}"
        head = await http.head(link, headers={"Range": "bytes=0-9"})
        assert head.status_code == 200
        assert head.headers["content-length"] == str(size)
        assert "content-range" not in head.headers
        stale = await http.get(link, headers={"Range": f"bytes={size}-", "If-Range": '"other"'})
        assert (stale.status_code, stale.content) == (200, VIDEO)
        fresh = await http.get(link, headers={"Range": "bytes=2-5", "If-Range": etag})
        assert (fresh.status_code, fresh.content) == (206, VIDEO[2:6])


async def test_expired_tampered_or_malformed_links_are_one_404_that_says_nothing_more(
    queue: QueueServer,
) -> None:
    media = await queue.client().upload()
    media_id = uuid.UUID(media["id"])
    good = local(queue, links(queue).url(media_id))
    expired = local(queue, links(queue, ago_s=7200, ttl_s=3600).url(media_id))
    base, expires, signature = good.rsplit("/", 2)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    later = str(int(expires) + 3600)
    other = local(queue, links(queue).url(uuid.uuid4()))
    forged_key = MediaLinks(key=b"k" * 32, public_url=PUBLIC, ttl_s=60, clock=now)
    bad = [
        expired,
        f"{base}/{expires}/{flipped}",
        f"{base}/{later}/{signature}",  # the expiry is signed too
        other,  # a valid link to media that does not exist
        local(queue, forged_key.url(media_id)),
        f"{base}/{expires}/{signature[:-1]}",
        f"{base.replace(str(media_id), str(media_id).upper())}/{expires}/{signature}",
        f"{queue.base_url}/media/v1/{media_id}",
        f"{queue.base_url}/media/v1/",
    ]
    async with httpx.AsyncClient() as http:
        assert (await http.get(good)).status_code == 200
        for url in bad:
            answer = await http.get(url)
            assert answer.status_code == 404, url
        for url in bad[:7]:  # the link route's own answer: the same, and no path echoed
            assert (await http.get(url)).json() == {
                "type": "about:blank",
                "title": "Not Found",
                "status": 404,
                "detail": NOT_FOUND,
            }
        refused = await http.post(good, content=b"x")
        assert refused.status_code == 405


async def test_a_deleted_or_erased_video_is_404_at_once_even_with_a_valid_link(
    queue: QueueServer,
) -> None:
    client = queue.client()
    kept, deleted, erased = [await client.upload() for _ in range(3)]
    make = links(queue)
    urls = {m["id"]: local(queue, make.url(uuid.UUID(m["id"]))) for m in (kept, deleted, erased)}
    assert (await client.http.delete(f"/api/v1/media/{deleted['id']}")).status_code == 204
    async with queue.runtime.factory() as session, session.begin():  # as erasure does
        await session.execute(delete(Media).where(Media.id == uuid.UUID(erased["id"])))
    async with httpx.AsyncClient() as http:
        assert (await http.get(urls[kept["id"]])).status_code == 200
        assert (await http.get(urls[deleted["id"]])).status_code == 404
        assert (await http.get(urls[erased["id"]])).status_code == 404
        for path in queue.runtime.settings.media_dir.glob(f"{kept['id']}.*"):
            path.unlink()
        assert (await http.get(urls[kept["id"]])).status_code == 404


async def test_an_instagram_command_carries_a_working_link_and_a_youtube_one_none(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    instagram = await client.account("instagram")
    youtube = await client.account("youtube")
    media = await client.upload(REEL)
    body: dict[str, Any] = {
        "media_id": media["id"],
        "targets": [
            {"account_id": str(instagram), "instagram": {"caption": "hello #sandbox"}},
            {"account_id": str(youtube), "youtube": {"title": "A test video"}},
        ],
    }
    response = await client.post(body)
    assert response.status_code == 201, response.text
    post = response.json()
    by_platform = {t["platform"]: t["id"] for t in post["targets"]}
    await eventually(lambda: recorder.commands(by_platform["instagram"]), timeout=20)
    await eventually(lambda: recorder.commands(by_platform["youtube"]), timeout=20)
    sent = recorder.commands(by_platform["instagram"])[0].value
    assert sent["options"] == {
        "platform": "instagram",
        "caption": "hello #sandbox",
        "share_to_feed": True,
    }
    link = sent["media"]["url"]
    assert link.startswith(f"{PUBLIC}/media/v1/{media['id']}/")
    expires = int(link.rsplit("/", 2)[1])
    assert 23.9 * 3600 < expires - now().timestamp() <= 24 * 3600 + 2
    async with httpx.AsyncClient() as http:
        assert (await http.get(local(queue, link))).content == REEL
    assert recorder.commands(by_platform["youtube"])[0].value["media"].get("url") is None


async def test_a_telegram_articles_cover_link_lasts_the_page_lifetime_and_ends_on_deletion(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    telegram = await client.account("telegram")
    cover = await client.upload(COVER, **{"Content-Type": "image/jpeg"})
    body: dict[str, Any] = {
        "kind": "article",
        "article": {
            "title": "A long read",
            "body_html": "<p>Hello.</p>",
            "cover_media_id": cover["id"],
        },
        "targets": [{"account_id": str(telegram), "telegram": {"article_as": "telegraph"}}],
    }
    response = await client.post(body)
    assert response.status_code == 201, response.text
    target_id = response.json()["targets"][0]["id"]
    await eventually(lambda: recorder.commands(target_id), timeout=20)
    link = recorder.commands(target_id)[0].value["article"]["cover"]["url"]
    assert link.startswith(f"{PUBLIC}/media/v1/{cover['id']}/")
    expires = int(link.rsplit("/", 2)[1])
    year = 365 * 24 * 3600
    assert year - 60 < expires - now().timestamp() <= year + 2
    async with httpx.AsyncClient() as http:
        assert (await http.get(local(queue, link))).content == COVER
        async with queue.runtime.factory() as session, session.begin():
            await session.execute(delete(Media).where(Media.id == uuid.UUID(cover["id"])))
        assert (await http.get(local(queue, link))).status_code == 404


async def test_a_caption_with_31_hashtags_is_refused_naming_the_target_field(
    queue: QueueServer,
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    instagram = await client.account("instagram")
    media = await client.upload(REEL)
    caption = " ".join(f"#tag{i}" for i in range(31))
    response = await client.post(
        {
            "media_id": media["id"],
            "targets": [
                {"account_id": str(youtube), "youtube": {"title": "t"}},
                {"account_id": str(instagram), "instagram": {"caption": caption}},
            ],
        }
    )
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["targets[1].instagram.caption"], errors
    assert "30 hashtags" in errors[0]["message"]
