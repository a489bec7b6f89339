"""Photo posts and articles, besides videos (issue 10 items 1 and 8, the queue's side).

``POST /api/v1/posts`` takes ``kind`` with its content (``media_id``,
``image_ids``, ``article``); each target's platform checks it through the
registry, and every problem names the field the client wrote. Every file of a
post is a ``post_media`` row, so the deletion guard, erasure, export and the
dispatched command see all of them.

No platform on main takes photo posts or articles yet (Telegram, Instagram,
VK and TikTok's photo mode come with their publishers), so most tests run a
queue whose registry is given through the composition root
(:data:`REGISTRY`): TikTok takes every kind (35 images a post) and YouTube
photo posts of up to 10 images, with two checks of the kind a platform adds.
The session's queue, on the real registry, shows the refusal of a kind a
platform cannot take.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from queue_support import (
    ApiClient,
    QueueServer,
    Recorder,
    at_offset,
    eventually,
    own_queue,
    until_status,
)
from sqlalchemy import func, select

from cachalot_common import platforms
from cachalot_common.events import PublishPost
from cachalot_queue.tables import Media, PostMedia
from cachalot_testing.blocks import KindMarkedOption, block_with, kind_marked_options

pytestmark = pytest.mark.integration

IMAGE_MAX_BYTES = 5000
TITLE_MAX = 40


def images_fit(options: BaseModel, content: platforms.Content) -> list[platforms.FieldError]:
    """A check of the kind Instagram has: each image at most IMAGE_MAX_BYTES."""
    return [
        platforms.FieldError(
            f"images[{i}]",
            f"takes images of at most {IMAGE_MAX_BYTES} bytes",
            "file_too_large",
            {"limit": IMAGE_MAX_BYTES, "count": image.size},
        )
        for i, image in enumerate(content.images)
        if image.size > IMAGE_MAX_BYTES
    ]


def title_fits(options: BaseModel, content: platforms.Content) -> list[platforms.FieldError]:
    """A check of the kind Telegram has: an article title of at most TITLE_MAX characters."""
    if content.title is not None and len(content.title) > TITLE_MAX:
        return [
            platforms.FieldError(
                "article.title",
                f"at most {TITLE_MAX} characters",
                "text_too_long",
                {"limit": TITLE_MAX, "unit": "characters", "count": len(content.title)},
            )
        ]
    return []


_tiktok = platforms.get("tiktok")
_youtube = platforms.get("youtube")
REGISTRY = {
    **platforms.REGISTRY,
    "tiktok": dataclasses.replace(
        _tiktok,
        kinds=frozenset({"video", "photo", "article"}),
        max_images=35,
        # the real TikTok takes JPEG or WebP photos; these tests' images are PNG
        limits=dataclasses.replace(_tiktok.limits, image=platforms.MediaLimits()),
        checks=(*_tiktok.checks, images_fit, title_fits),
    ),
    "youtube": dataclasses.replace(_youtube, kinds=frozenset({"video", "photo"}), max_images=10),
}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def kinds(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
    recorder: Recorder,
) -> AsyncIterator[QueueServer]:
    """A queue on each database whose registry is :data:`REGISTRY`."""
    async with own_queue(
        request, kafka_bootstrap, kafka_idempotence, tmp_path_factory, "kinds", registry=REGISTRY
    ) as server:
        yield server


async def add_image(
    client: ApiClient, *, size: int = 100, content_type: str = "image/png"
) -> dict[str, Any]:
    """An image stored as POST /api/v1/media will store one (file, then row)."""
    media_id = uuid.uuid4()
    data = (b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * size)[:size]
    name = f"{media_id}.{'png' if content_type == 'image/png' else 'jpg'}"
    runtime = client.server.runtime
    (runtime.settings.media_dir / name).write_bytes(data)
    async with runtime.factory() as session, session.begin():
        session.add(
            Media(
                id=media_id,
                client_id=client.id,
                path=name,
                size=size,
                sha256=hashlib.sha256(data).hexdigest(),
                content_type=content_type,
                duration_sec=None,
                created_at=at_offset(0),
            )
        )
    return {"id": str(media_id), "path": name, "size": size}


def problem(response: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


def fields(response: httpx.Response) -> dict[str, str]:
    return {e["field"]: e["message"] for e in problem(response)["errors"]}


async def command(recorder: Recorder, target: dict[str, Any]) -> PublishPost:
    seen = await eventually(lambda: recorder.commands(target["id"]), timeout=20)
    return PublishPost.model_validate(seen[0].value)


async def test_a_photo_post_is_dispatched_with_its_images_in_order(
    kinds: QueueServer, recorder: Recorder
) -> None:
    client = kinds.client()
    tiktok = await client.account("tiktok")
    images = [await add_image(client, size=100 + i) for i in range(3)]
    order = [images[2], images[0], images[1]]

    response = await client.post(
        {
            "kind": "photo",
            "image_ids": [i["id"] for i in order],
            "targets": [
                {
                    "account_id": str(tiktok),
                    "tiktok": {"privacy_level": "SELF_ONLY", "caption": "three"},
                }
            ],
        }
    )

    assert response.status_code == 201, response.text
    post = response.json()
    assert (post["kind"], post["media_id"], post["article"]) == ("photo", None, None)
    assert post["image_ids"] == [i["id"] for i in order]
    sent = await command(recorder, post["targets"][0])
    assert (sent.kind, sent.media, sent.article) == ("photo", None, None)
    assert [(str(r.media_id), r.path, r.size) for r in sent.images] == [
        (i["id"], i["path"], i["size"]) for i in order
    ]
    assert sent.bytes_total == sum(i["size"] for i in images)
    assert sent.options.model_dump()["caption"] == "three"


async def test_an_article_is_dispatched_with_its_title_body_and_cover(
    kinds: QueueServer, recorder: Recorder
) -> None:
    client = kinds.client()
    tiktok = await client.account("tiktok")
    cover = await add_image(client, content_type="image/jpeg")
    body = '<p>Hello <b>world</b>, <a href="https://example.com">read on</a>.</p>'

    response = await client.post(
        {
            "kind": "article",
            "article": {"title": "News", "body_html": body, "cover_media_id": cover["id"]},
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )

    assert response.status_code == 201, response.text
    post = response.json()
    assert (post["kind"], post["media_id"], post["image_ids"]) == ("article", None, [])
    assert post["article"] == {"title": "News", "body_html": body, "cover_media_id": cover["id"]}
    sent = await command(recorder, post["targets"][0])
    assert sent.kind == "article"
    assert sent.article is not None
    assert (sent.article.title, sent.article.body_html) == ("News", body)
    assert sent.article.cover is not None
    assert (str(sent.article.cover.media_id), sent.article.cover.content_type) == (
        cover["id"],
        "image/jpeg",
    )
    assert [str(f.media_id) for f in sent.files()] == [cover["id"]]


async def test_a_video_post_still_carries_its_video_and_says_so(
    kinds: QueueServer, recorder: Recorder
) -> None:
    client = kinds.client()
    post = await client.queue(tiktok=await client.account("tiktok"))

    assert (post["kind"], post["image_ids"], post["article"]) == ("video", [], None)
    sent = await command(recorder, post["targets"][0])
    assert sent.kind == "video"
    assert sent.media is not None
    assert str(sent.media.media_id) == post["media_id"]


async def test_every_problem_with_a_photo_post_names_its_field(kinds: QueueServer) -> None:
    client = kinds.client()
    tiktok, youtube = await client.account("tiktok"), await client.account("youtube")
    small = await add_image(client)
    large = await add_image(client, size=IMAGE_MAX_BYTES + 1)
    video = await client.upload()
    elsewhere = await add_image(kinds.client())
    targets = [
        {"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY", "caption": "three"}},
        {"account_id": str(youtube), "youtube": {"title": "photos"}},
    ]

    wrong = await client.post(
        {
            "kind": "photo",
            "image_ids": [
                small["id"],
                str(uuid.uuid4()),
                video["id"],
                elsewhere["id"],
                small["id"],
            ],
            "targets": targets,
        }
    )
    too_many = await client.post(
        {"kind": "photo", "image_ids": [small["id"]] * 11, "targets": targets[1:]}
    )
    at_tiktok = await client.post(
        {"kind": "photo", "image_ids": [small["id"], large["id"]], "targets": targets[:1]}
    )

    found = fields(wrong)
    assert set(found) == {"image_ids[1]", "image_ids[2]", "image_ids[3]", "image_ids[4]"}
    assert "no such media" in found["image_ids[1]"]
    assert "is a video" in found["image_ids[2]"]
    assert "no such media" in found["image_ids[3]"]  # another client's image
    assert "already in this post at image_ids[0]" in found["image_ids[4]"]
    # YouTube (here) takes 10 images a post: the count is the platform's
    assert "already in this post" in fields(too_many)["image_ids[1]"]
    distinct = [(await add_image(client))["id"] for _ in range(11)]
    over = await client.post({"kind": "photo", "image_ids": distinct, "targets": targets})
    assert fields(over) == {  # the count is the platform's: named at its target, TikTok takes 11
        "targets[1].image_ids": "YouTube takes at most 10 images in a post; this one has 11"
    }
    took = await client.post({"kind": "photo", "image_ids": distinct, "targets": targets[:1]})
    assert took.status_code == 201, took.text  # TikTok (here) takes 35
    assert fields(at_tiktok) == {"image_ids[1]": f"takes images of at most {IMAGE_MAX_BYTES} bytes"}
    # a photo post's caption is TikTok's description: at most 4000 UTF-16 units
    long_caption = {
        "account_id": str(tiktok),
        "tiktok": {"privacy_level": "SELF_ONLY", "caption": "x" * 4001},
    }
    caption = await client.post(
        {"kind": "photo", "image_ids": [small["id"]], "targets": [targets[1], long_caption]}
    )
    assert list(fields(caption)) == ["targets[1].tiktok.caption"]


async def test_every_problem_with_an_article_or_a_kind_names_its_field(
    kinds: QueueServer,
) -> None:
    client = kinds.client()
    tiktok, youtube = await client.account("tiktok"), await client.account("youtube")
    video = await client.upload()
    image = await add_image(client)

    bad_body = await client.post(
        {
            "kind": "article",
            "article": {
                "title": "t" * (TITLE_MAX + 1),
                "body_html": "<p>hi</p><script>x</script>",
                "cover_media_id": video["id"],
            },
            "targets": [
                {"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}},
                {"account_id": str(youtube)},
            ],
        }
    )
    fits = await client.post(
        {
            "kind": "article",
            "article": {"title": "t" * (TITLE_MAX + 1), "body_html": "<p>hi</p>"},
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )
    mixed = await client.post(
        {
            "image_ids": [image["id"]],
            "article": {"title": "t", "body_html": "<p>hi</p>"},
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )
    empty = await client.post(
        {
            "kind": "photo",
            "image_ids": [],
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )
    thirty_six = await client.post(
        {
            "kind": "photo",
            "image_ids": [image["id"]] * 36,
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )
    unknown = await client.post(
        {
            "kind": "story",
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )

    found = fields(bad_body)
    assert set(found) == {"article.body_html", "article.cover_media_id", "targets[1].account_id"}
    assert found["article.body_html"].startswith("<script> is not allowed in an article")
    assert "is a video" in found["article.cover_media_id"]
    assert found["targets[1].account_id"] == (
        "YouTube cannot take article posts; it takes video or photo posts"
    )
    assert fields(fits) == {"article.title": f"at most {TITLE_MAX} characters"}
    found = fields(mixed)
    assert set(found) == {"image_ids", "article", "media_id"}
    assert "required for a video post" in found["media_id"]
    assert set(fields(empty)) == {"image_ids"}
    assert set(fields(thirty_six)) == {"image_ids"}
    assert set(fields(unknown)) == {"kind"}


async def test_a_kind_the_platform_cannot_take_is_refused_naming_the_target(
    queue: QueueServer,
) -> None:
    client = queue.client()
    tiktok = await client.account("tiktok")

    response = await client.post(
        {
            "kind": "article",
            "article": {"title": "News", "body_html": "<p>Hello</p>"},
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )

    assert fields(response) == {
        "targets[0].account_id": "TikTok cannot take article posts; it takes video or photo posts"
    }
    listed = await client.http.get("/api/v1/posts/platforms")
    assert listed.status_code == 200, listed.text
    catalogue = {p["name"]: p for p in listed.json()["items"]}
    assert list(catalogue) == list(platforms.names())
    assert catalogue["tiktok"]["kinds"] == sorted(
        platforms.get("tiktok").kinds, key=["video", "photo", "article"].index
    )
    caption = catalogue["tiktok"]["fields"]["properties"]["caption"]
    assert caption["type"] == "string"
    assert "title" in catalogue["youtube"]["fields"]["required"]
    for name, spec in platforms.REGISTRY.items():
        assert catalogue[name]["publishable"] is spec.publishable
        assert (catalogue[name]["fields"] is None) is (not spec.publishable)


async def test_an_image_a_scheduled_photo_post_uses_cannot_be_deleted(
    kinds: QueueServer,
) -> None:
    client = kinds.client()
    tiktok = await client.account("tiktok")
    first, second = await add_image(client), await add_image(client)
    cover = await add_image(client)
    photo = await client.post(
        {
            "kind": "photo",
            "image_ids": [first["id"], second["id"]],
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
            "scheduled_at": at_offset(3600).isoformat(),
        }
    )
    article = await client.post(
        {
            "kind": "article",
            "article": {"title": "t", "body_html": "<p>b</p>", "cover_media_id": cover["id"]},
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
            "scheduled_at": at_offset(3600).isoformat(),
        }
    )
    post, story = photo.json(), article.json()

    refused = await client.http.delete(f"/api/v1/media/{second['id']}")
    refused_cover = await client.http.delete(f"/api/v1/media/{cover['id']}")

    assert problem(refused, 409)["posts"] == [post["id"]]
    assert problem(refused_cover, 409)["posts"] == [story["id"]]
    listed = {i["id"]: i for i in (await client.http.get("/api/v1/media")).json()["items"]}
    assert (listed[second["id"]]["posts"], listed[second["id"]]["needed_by"]) == (
        [post["id"]],
        [post["id"]],
    )
    assert listed[cover["id"]]["needed_by"] == [story["id"]]
    # once the post is finished with them, the images can go; the post shows it
    assert (await client.http.post(f"/api/v1/posts/{post['id']}/cancel")).status_code == 200
    assert (await client.http.delete(f"/api/v1/media/{second['id']}")).status_code == 204
    shown = await client.get(post["id"])
    assert (shown["image_ids"], shown["media_deleted"]) == ([first["id"], second["id"]], True)
    assert (await client.get(story["id"]))["media_deleted"] is False


async def test_the_export_holds_each_posts_kind_and_files(kinds: QueueServer) -> None:
    client = kinds.client()
    tiktok = await client.account("tiktok")
    image, cover = await add_image(client), await add_image(client)
    later = at_offset(3600).isoformat()
    video = await client.queue(tiktok=tiktok, at=at_offset(3600))
    photo = await client.post(
        {
            "kind": "photo",
            "image_ids": [image["id"]],
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
            "scheduled_at": later,
        }
    )
    body = "<p>Body</p>"
    article = await client.post(
        {
            "kind": "article",
            "article": {"title": "T", "body_html": body, "cover_media_id": cover["id"]},
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
            "scheduled_at": later,
        }
    )

    export = (await client.http.get("/api/v1/posts/export")).json()

    posts = export["posts"]
    assert [p["id"] for p in posts] == [video["id"], photo.json()["id"], article.json()["id"]]
    assert [p["kind"] for p in posts] == ["video", "photo", "article"]
    assert posts[0]["media_id"] == video["media_id"]
    assert posts[1]["image_ids"] == [image["id"]]
    assert posts[2]["article"] == {"title": "T", "body_html": body, "cover_media_id": cover["id"]}
    assert {m["id"] for m in export["media"]} == {video["media_id"], image["id"], cover["id"]}
    assert {m["content_type"] for m in export["media"]} == {"video/mp4", "image/png"}


async def test_erasing_a_client_removes_its_photo_posts_files_and_rows(kinds: QueueServer) -> None:
    client = kinds.client()
    tiktok = await client.account("tiktok")
    image = await add_image(client)
    photo = await client.post(
        {
            "kind": "photo",
            "image_ids": [image["id"]],
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
            "scheduled_at": at_offset(3600).isoformat(),
        }
    )
    assert photo.status_code == 201, photo.text
    stored = kinds.runtime.settings.media_dir / image["path"]
    assert stored.exists()

    await client.account_event(tiktok, "tiktok", "deleted", reason="the client erased their data")

    assert (await client.http.get(f"/api/v1/posts/{photo.json()['id']}")).status_code == 404
    assert not stored.exists()
    async with kinds.runtime.reader() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(PostMedia)
            .where(PostMedia.post_id == uuid.UUID(photo.json()["id"]))
        )
    assert left == 0


async def test_a_video_post_sent_with_its_key_before_post_kinds_is_still_replayed(
    kinds: QueueServer,
) -> None:
    """The Idempotency-Key's hash leaves the new fields out at their defaults."""
    client = kinds.client()
    tiktok = await client.account("tiktok")
    media = await client.upload()
    targets = [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}]

    first = await client.post(
        {"media_id": media["id"], "targets": targets}, **{"Idempotency-Key": "k1"}
    )
    again = await client.post(
        {"kind": "video", "media_id": media["id"], "targets": targets}, **{"Idempotency-Key": "k1"}
    )

    assert first.status_code == 201, first.text
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]


async def test_a_retried_photo_post_carries_its_images_again_until_one_is_deleted(
    kinds: QueueServer, recorder: Recorder
) -> None:
    client = kinds.client()
    tiktok = await client.account("tiktok")
    images = [await add_image(client), await add_image(client)]
    response = await client.post(
        {
            "kind": "photo",
            "image_ids": [i["id"] for i in images],
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )
    post = response.json()
    target = post["targets"][0]
    await until_status(kinds, post, "dispatched")
    await kinds.result(post, type="failed", code="spam_risk", reason="TikTok: spam risk")
    await until_status(kinds, post, "failed")

    retried = await client.http.post(f"/api/v1/posts/{post['id']}/retry")

    assert retried.status_code == 200, retried.text
    sent = await eventually(lambda: recorder.commands(target["id"])[1:], timeout=20)
    again = PublishPost.model_validate(sent[0].value)
    assert (again.kind, again.attempt) == ("photo", 2)
    assert [str(r.media_id) for r in again.images] == [i["id"] for i in images]
    # once it failed again, deleting an image ends its retries
    await until_status(kinds, post, "dispatched")
    await kinds.result(post, type="failed", code="spam_risk", reason="TikTok: spam risk")
    await until_status(kinds, post, "failed")
    assert (await client.http.delete(f"/api/v1/media/{images[1]['id']}")).status_code == 204
    refused = problem(await client.http.post(f"/api/v1/posts/{post['id']}/retry"), 409)
    assert refused["type"] == "https://cachalot.dev/problems/media-deleted"
    assert refused["media_id"] == images[1]["id"]


async def test_a_blank_title_or_a_control_character_in_any_text_is_refused_naming_its_field(
    kinds: QueueServer,
) -> None:
    """Issue 10 (fresh-user try): "  \\u200b " was a title and a NUL went on to VK."""
    client = kinds.client()
    tiktok = await client.account("tiktok")
    video = await client.upload()
    blank = await client.post(
        {
            "kind": "article",
            "article": {"title": "  \u200b ", "body_html": "<p>hi</p>"},
            "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
        }
    )
    assert fields(blank) == {
        "article.title": "must have visible text; it holds only spaces or invisible characters"
    }
    for char in ("\x00", "\x07", "\x7f"):
        nul = await client.post(
            {
                "media_id": video["id"],
                "targets": [
                    {
                        "account_id": str(tiktok),
                        "tiktok": {"privacy_level": "SELF_ONLY", "caption": f"hi{char}there"},
                    }
                ],
            }
        )
        found = fields(nul)
        assert list(found) == ["targets[0].tiktok.caption"]
        assert (
            f"control character U+{ord(char):04X} at character 3"
            in found["targets[0].tiktok.caption"]
        )
    fine = await client.post(
        {
            "media_id": video["id"],
            "targets": [
                {
                    "account_id": str(tiktok),
                    "tiktok": {"privacy_level": "SELF_ONLY", "caption": "two\r\nlines\tand a tab"},
                }
            ],
        }
    )
    assert fine.status_code == 201, fine.text


@pytest.mark.parametrize("marked", kind_marked_options(), ids=str)
async def test_an_option_a_kind_of_post_would_not_use_is_refused_naming_it_and_the_kind(
    queue: QueueServer, marked: KindMarkedOption
) -> None:
    """The registry's ``x-kinds`` hold for every platform when a post is queued: a value
    the kind would drop (a TikTok ``photo_title`` on a video) is a 422 naming the option
    and the kind; the same post without it is queued."""
    client = queue.client()
    account = await client.account(marked.platform)
    if marked.kind == "video":
        content: dict[str, Any] = {"media_id": (await client.upload())["id"]}
    elif marked.kind == "photo":
        image = await add_image(client, content_type="image/jpeg")
        content = {"kind": "photo", "image_ids": [image["id"]]}
    else:
        content = {"kind": "article", "article": {"title": "T", "body_html": "<p>Body</p>"}}
    block = block_with(marked.platform, marked.option)
    target = {"account_id": str(account), marked.platform: block}

    refused = fields(await client.post({**content, "targets": [target]}))

    where = f"targets[0].{marked.platform}.{marked.option}"
    assert list(refused) == [where]
    assert f"{marked.option} is only for " in refused[where]
    assert f" {marked.kind} post" in refused[where]
    del block[marked.option]
    queued = await client.post({**content, "targets": [target]})
    assert queued.status_code == 201, queued.text


async def test_a_queued_photo_posts_images_and_an_articles_text_are_changed_and_sent_as_changed(
    kinds: QueueServer, recorder: Recorder
) -> None:
    """fresh10 (issue 10, gap): PATCH changed a post's time and settings only; an article's
    text or a photo post's images could not be changed before it went out."""
    client = kinds.client()
    tiktok = await client.account("tiktok")
    old, new = (
        [await add_image(client) for _ in range(2)],
        [await add_image(client) for _ in range(3)],
    )
    block = {"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}
    later = at_offset(3600).isoformat()
    photo = (
        await client.post(
            {
                "kind": "photo",
                "image_ids": [i["id"] for i in old],
                "targets": [block],
                "scheduled_at": later,
            }
        )
    ).json()
    article = (
        await client.post(
            {
                "kind": "article",
                "article": {"title": "Draft", "body_html": "<p>old</p>"},
                "targets": [block],
                "scheduled_at": later,
            }
        )
    ).json()

    order = [new[2]["id"], new[0]["id"], new[1]["id"]]
    changed = await client.http.patch(f"/api/v1/posts/{photo['id']}", json={"image_ids": order})
    cover = await add_image(client, content_type="image/jpeg")
    story = {"title": "Final", "body_html": "<p>new <b>text</b></p>", "cover_media_id": cover["id"]}
    rewritten = await client.http.patch(f"/api/v1/posts/{article['id']}", json={"article": story})

    assert changed.status_code == 200, changed.text
    assert changed.json()["image_ids"] == order
    assert rewritten.status_code == 200, rewritten.text
    assert rewritten.json()["article"] == story
    # its events name it by the new title (a failure's e-mail says which post)
    assert (await kinds.target(article["targets"][0]["id"])).article_title == "Final"
    # the old images are free to delete; the new ones are held by the post
    assert (await client.http.delete(f"/api/v1/media/{old[0]['id']}")).status_code == 204
    held = problem(await client.http.delete(f"/api/v1/media/{new[1]['id']}"), 409)
    assert held["posts"] == [photo["id"]]
    trail = (await client.http.get(f"/api/v1/posts/{photo['id']}/audit")).json()["items"]
    assert [(e["action"], (e["detail"] or {}).get("changed")) for e in trail][-1] == (
        "edited",
        ["content"],
    )
    # and they go out as changed
    for post in (photo, article):
        soon = {"scheduled_at": at_offset(0.5).isoformat()}
        assert (
            await client.http.patch(f"/api/v1/posts/{post['id']}", json=soon)
        ).status_code == 200
    sent_photo = await command(recorder, photo["targets"][0])
    assert [str(r.media_id) for r in sent_photo.images] == order
    sent_article = await command(recorder, article["targets"][0])
    assert sent_article.article is not None
    assert sent_article.article.cover is not None
    assert (sent_article.article.title, sent_article.article.body_html) == (
        "Final",
        story["body_html"],
    )
    assert str(sent_article.article.cover.media_id) == cover["id"]


async def test_new_content_is_checked_against_every_target_and_refused_naming_its_field(
    kinds: QueueServer,
) -> None:
    client = kinds.client()
    tiktok, youtube = await client.account("tiktok"), await client.account("youtube")
    images = [await add_image(client) for _ in range(11)]
    post = (
        await client.post(
            {
                "kind": "photo",
                "image_ids": [images[0]["id"]],
                "targets": [
                    {"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}},
                    {"account_id": str(youtube), "youtube": {"title": "photos"}},
                ],
                "scheduled_at": at_offset(3600).isoformat(),
            }
        )
    ).json()
    path = f"/api/v1/posts/{post['id']}"

    too_many = fields(await client.http.patch(path, json={"image_ids": [i["id"] for i in images]}))
    wrong_kind = fields(await client.http.patch(path, json={"media_id": images[0]["id"]}))
    unknown = fields(await client.http.patch(path, json={"image_ids": [str(uuid.uuid4())]}))
    large = await add_image(client, size=IMAGE_MAX_BYTES + 1)
    too_large = fields(await client.http.patch(path, json={"image_ids": [large["id"]]}))

    assert "YouTube takes at most 10 images" in too_many["image_ids"]
    assert "photo posts do not take media_id" in wrong_kind["media_id"]
    assert "image_ids[0]" in unknown
    assert f"at most {IMAGE_MAX_BYTES} bytes" in too_large["image_ids[0]"]
    # nothing was half-changed
    assert (await client.get(post["id"]))["image_ids"] == [images[0]["id"]]


async def test_an_empty_image_list_is_refused_in_the_posts_own_words_whatever_its_kind(
    kinds: QueueServer,
) -> None:
    """fresh10k: ``image_ids: []`` got pydantic's list rule ("List should have at least 1
    item after validation, not 0"), even on a video post, listed before its missing video."""
    client = kinds.client()
    tiktok = await client.account("tiktok")
    target = {"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}
    photo = fields(
        await client.http.post(
            "/api/v1/posts", json={"kind": "photo", "image_ids": [], "targets": [target]}
        )
    )
    video = fields(
        await client.http.post(
            "/api/v1/posts", json={"kind": "video", "image_ids": [], "targets": [target]}
        )
    )
    assert "required for a photo post" in photo["image_ids"]
    assert "video posts do not take image_ids" in video["image_ids"]
    assert "required for a video post" in video["media_id"]
    assert "List should" not in str(photo) + str(video)
    image = await add_image(client)
    post = (
        await client.post(
            {
                "kind": "photo",
                "image_ids": [image["id"]],
                "targets": [target],
                "scheduled_at": at_offset(3600).isoformat(),
            }
        )
    ).json()
    emptied = fields(await client.http.patch(f"/api/v1/posts/{post['id']}", json={"image_ids": []}))
    assert "required for a photo post" in emptied["image_ids"]
    assert (await client.get(post["id"]))["image_ids"] == [image["id"]]


async def test_a_posts_content_changes_only_while_no_target_is_being_published_or_done(
    kinds: QueueServer, recorder: Recorder
) -> None:
    client = kinds.client()
    tiktok = await client.account("tiktok")
    first, second = await add_image(client), await add_image(client)
    post = (
        await client.post(
            {
                "kind": "photo",
                "image_ids": [first["id"]],
                "targets": [{"account_id": str(tiktok), "tiktok": {"privacy_level": "SELF_ONLY"}}],
            }
        )
    ).json()
    path = f"/api/v1/posts/{post['id']}"
    await until_status(kinds, post, "dispatched")

    busy = problem(await client.http.patch(path, json={"image_ids": [second["id"]]}), 409)
    await kinds.result(post, type="failed", code="spam_risk", reason="TikTok: spam risk")
    await until_status(kinds, post, "failed")
    mended = await client.http.patch(path, json={"image_ids": [second["id"]]})
    retried = await client.http.post(f"{path}/retry")

    assert "targets[0] (tiktok) already handed to a publisher" in busy["detail"]
    assert mended.status_code == 200, mended.text
    assert mended.json()["targets"][0]["status"] == "failed"
    assert retried.status_code == 200, retried.text
    sent = await eventually(lambda: recorder.commands(post["targets"][0]["id"])[1:], timeout=20)
    assert [str(r.media_id) for r in PublishPost.model_validate(sent[0].value).images] == [
        second["id"]
    ]
