"""A client at its media quota frees room by deleting videos its posts are finished with.

Until this, nothing deleted a video but the erasure of the whole client, so a
client who reached CACHALOT_MEDIA_QUOTA_BYTES could never upload again.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from queue_support import VIDEO, QueueServer, at_offset, now, own_queue, until_status
from sqlalchemy import delete

from cachalot_queue.retention import MediaRetention
from cachalot_queue.tables import Media

pytestmark = pytest.mark.integration

QUOTA = 2 * len(VIDEO) + len(VIDEO) // 2  # two tiny videos fit, a third does not


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def library(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    kafka_idempotence: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[QueueServer]:
    async with own_queue(
        request, kafka_bootstrap, kafka_idempotence, tmp_path_factory, "media",
        media_quota_bytes=QUOTA,
    ) as server:  # fmt: skip
        yield server


def stored_file(queue: QueueServer, media_id: Any) -> list[Path]:
    return list(queue.runtime.settings.media_dir.glob(f"{media_id}.*"))


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


async def test_deleting_a_video_frees_its_quota_so_a_new_upload_fits(
    library: QueueServer,
) -> None:
    client = library.client()
    first = await client.upload()
    await client.upload()
    assert_problem(
        await client.http.post(
            "/api/v1/media", content=VIDEO, headers={"Content-Type": "video/mp4"}
        ),
        413,
    )
    listed = (await client.http.get("/api/v1/media")).json()
    assert (listed["used_bytes"], listed["quota_bytes"]) == (2 * len(VIDEO), QUOTA)
    assert stored_file(library, first["id"])

    deleted = await client.http.delete(f"/api/v1/media/{first['id']}")

    assert deleted.status_code == 204, deleted.text
    assert stored_file(library, first["id"]) == []
    usage = (await client.http.get("/api/v1/media/usage")).json()
    assert usage == {"used_bytes": len(VIDEO), "quota_bytes": QUOTA}
    assert (
        await client.http.post(
            "/api/v1/media", content=VIDEO, headers={"Content-Type": "video/mp4"}
        )
    ).status_code == 201
    again = await client.http.delete(f"/api/v1/media/{first['id']}")
    assert_problem(again, 404)


async def test_another_clients_video_is_not_found_and_stays(library: QueueServer) -> None:
    owner, other = library.client(), library.client()
    media = await owner.upload()

    response = await other.http.delete(f"/api/v1/media/{media['id']}")

    assert_problem(response, 404)
    assert_problem(await other.http.delete(f"/api/v1/media/{uuid.uuid4()}"), 404)
    assert (await other.http.get("/api/v1/media")).json()["items"] == []
    [kept] = (await owner.http.get("/api/v1/media")).json()["items"]
    assert kept["id"] == media["id"]
    assert stored_file(library, media["id"])


async def test_a_video_a_scheduled_post_needs_is_kept_with_a_409_naming_the_post(
    library: QueueServer,
) -> None:
    client = library.client()
    post = await client.queue(youtube=await client.account("youtube"), at=at_offset(3600))
    media_id = post["media_id"]

    refused = await client.http.delete(f"/api/v1/media/{media_id}")

    problem = assert_problem(refused, 409)
    assert problem["posts"] == [post["id"]]
    assert post["id"] in problem["detail"]
    assert stored_file(library, media_id)
    [item] = (await client.http.get("/api/v1/media")).json()["items"]
    assert (item["posts"], item["needed_by"]) == ([post["id"]], [post["id"]])

    # once the post is finished with it (cancelled), the video can go; the post stays
    assert (await client.http.post(f"/api/v1/posts/{post['id']}/cancel")).status_code == 200
    assert (await client.http.delete(f"/api/v1/media/{media_id}")).status_code == 204
    assert stored_file(library, media_id) == []
    shown = await client.get(post["id"])
    assert (shown["media_id"], shown["media_deleted"]) == (media_id, True)
    assert shown["targets"][0]["status"] == "cancelled"
    listed = await client.http.get("/api/v1/posts")
    assert listed.json()["items"][0]["media_deleted"] is True
    export = await client.http.get("/api/v1/posts/export")
    assert export.status_code == 200, export.text
    assert export.json()["media"] == []
    assert export.json()["posts"][0]["media_deleted"] is True


async def test_a_failed_target_whose_video_was_deleted_cannot_be_retried(
    library: QueueServer,
) -> None:
    client = library.client()
    post = await client.queue(tiktok=await client.account("tiktok"))
    await until_status(library, post, "dispatched")
    await library.result(post, type="failed", code="spam_risk", reason="TikTok: spam risk")
    await until_status(library, post, "failed")
    assert (await client.http.delete(f"/api/v1/media/{post['media_id']}")).status_code == 204

    retry = await client.http.post(f"/api/v1/posts/{post['id']}/retry")

    problem = assert_problem(retry, 409)
    assert problem["type"] == "https://cachalot.dev/problems/media-deleted"
    assert "deleted" in problem["detail"]
    assert problem["media_id"] == post["media_id"]
    shown = await client.get(post["id"])
    assert shown["targets"][0]["status"] == "failed"
    assert shown["targets"][0]["last_error"] == "TikTok: spam risk"
    assert shown["media_deleted"] is True


async def test_a_new_post_cannot_use_a_deleted_video(library: QueueServer) -> None:
    client = library.client()
    account = await client.account("youtube")
    media = await client.upload()
    assert (await client.http.delete(f"/api/v1/media/{media['id']}")).status_code == 204

    response = await client.post(
        {
            "media_id": media["id"],
            "targets": [{"account_id": str(account), "youtube": {"title": "x"}}],
        }
    )

    problem = assert_problem(response, 422)
    assert [e["field"] for e in problem["errors"]] == ["media_id"]


async def test_media_are_listed_newest_first_a_page_at_a_time(library: QueueServer) -> None:
    client = library.client()
    ids = [(await client.upload())["id"], (await client.upload())["id"]]

    first = (await client.http.get("/api/v1/media", params={"limit": 1})).json()
    second = (
        await client.http.get("/api/v1/media", params={"limit": 1, "cursor": first["next_cursor"]})
    ).json()

    assert [i["id"] for i in first["items"] + second["items"]] == ids[::-1]
    assert second["next_cursor"] is None
    item = first["items"][0]
    assert set(item) >= {"id", "size", "sha256", "content_type", "created_at", "posts"}
    assert item["size"] == len(VIDEO)
    bad = await client.http.get("/api/v1/media", params={"cursor": "nope"})
    assert assert_problem(bad, 422)["errors"][0]["field"] == "cursor"


async def test_a_file_whose_row_is_gone_is_removed_by_the_sweep_run_at_start(
    library: QueueServer,
) -> None:
    client = library.client()
    kept = await client.upload()
    orphan = await client.upload()
    # a queue stopped between the delete's commit and the file's removal
    async with library.runtime.factory() as session, session.begin():
        await session.execute(delete(Media).where(Media.id == uuid.UUID(orphan["id"])))
    [path] = stored_file(library, orphan["id"])
    stranger = library.runtime.settings.media_dir / "not-a-video.txt"
    stranger.write_text("left alone")
    old = time.time() - 3600
    for file in (path, *stored_file(library, kept["id"]), stranger):
        os.utime(file, (old, old))

    await library.runtime.media_quota.sweep()

    assert stored_file(library, orphan["id"]) == []
    assert stored_file(library, kept["id"])
    assert stranger.exists()


async def test_the_media_routes_document_their_problems(library: QueueServer) -> None:
    schema = (await library.client().http.get("/openapi.json")).json()
    remove = schema["paths"]["/api/v1/media/{media_id}"]["delete"]["responses"]
    for status in ("401", "404", "409"):
        assert "application/problem+json" in remove[status]["content"], status
    retry = schema["paths"]["/api/v1/posts/{post_id}/retry"]["post"]["responses"]
    assert "application/problem+json" in retry["409"]["content"]
    assert "401" in schema["paths"]["/api/v1/media"]["get"]["responses"]


async def test_a_delete_racing_a_new_post_never_leaves_the_post_without_its_video(
    library: QueueServer,
) -> None:
    client = library.client()
    account = await client.account("youtube")
    for _ in range(4):
        media = await client.upload()
        body = {
            "media_id": media["id"],
            "targets": [{"account_id": str(account), "youtube": {"title": "race"}}],
            "scheduled_at": at_offset(3600).isoformat(),
        }

        removed, created = await asyncio.gather(
            client.http.delete(f"/api/v1/media/{media['id']}"), client.post(body)
        )

        if created.status_code == 201:
            assert removed.status_code == 409, removed.text
            assert stored_file(library, media["id"])
            assert created.json()["media_deleted"] is False
        else:
            assert (removed.status_code, created.status_code) == (204, 422), created.text
            assert stored_file(library, media["id"]) == []


async def test_the_files_of_posts_finished_longer_than_the_retention_go_and_the_rest_stay(
    library: QueueServer,
) -> None:
    """Issue 11 item 8: media is kept only as long as the privacy policy says."""
    client = library.client()
    account = await client.account("youtube")
    finished = await client.queue(youtube=account, at=at_offset(3600))
    assert (await client.http.post(f"/api/v1/posts/{finished['id']}/cancel")).status_code == 200
    waiting = await client.queue(youtube=account, at=at_offset(3600))
    runtime = library.runtime
    assert await runtime.retention.expire() == 0, "nothing is old enough today"

    later = MediaRetention(
        runtime.factory,
        media_dir=runtime.settings.media_dir,
        days=30,
        clock=lambda: now() + timedelta(days=31),
    )
    assert await later.expire() == 1
    assert stored_file(library, finished["media_id"]) == []
    assert stored_file(library, waiting["media_id"]), "a scheduled post still needs its file"
    shown = await client.get(finished["id"])
    assert shown["media_deleted"] is True
    never = MediaRetention(
        runtime.factory,
        media_dir=runtime.settings.media_dir,
        days=None,
        clock=lambda: now() + timedelta(days=3650),
    )
    assert await never.expire() == 0
