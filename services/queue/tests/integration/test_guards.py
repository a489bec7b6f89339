"""The queue's routes refuse cross-origin writes, form bodies and strangers (issue 8, items 5-6).

Each request is what a hostile page on a sibling origin (another port of the
host, or a sibling subdomain: the same *site*, so the session cookie goes
with it) makes a browser send; the dashboard's own requests still work.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from queue_support import VIDEO, QueueServer, at_offset

from cachalot_queue.schemas import PostCreate, largest_body_bytes

pytestmark = pytest.mark.integration

SIBLING = {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"}
OWN_PAGE = {"Sec-Fetch-Site": "same-origin"}
FORM_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b"]


@pytest.mark.parametrize("content_type", FORM_TYPES)
async def test_a_form_post_cannot_cancel_or_retry_a_post(
    queue: QueueServer, content_type: str
) -> None:
    client = queue.client()
    post = await client.queue(youtube=await client.account("youtube"), at=at_offset(3600))
    for action in ("cancel", "retry"):
        response = await client.http.post(
            f"/api/v1/posts/{post['id']}/{action}",
            content=b"x=1",
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 415, (action, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(post["id"]))["targets"][0]["status"] == "scheduled"


async def test_a_page_of_a_sibling_origin_can_neither_cancel_nor_queue_nor_upload(
    queue: QueueServer,
) -> None:
    client = queue.client()
    account = await client.account("youtube")
    post = await client.queue(youtube=account, at=at_offset(3600))
    media = await client.upload()
    for path, extra in (
        (f"/api/v1/posts/{post['id']}/cancel", {}),
        (f"/api/v1/posts/{post['id']}/retry", {}),
        (
            "/api/v1/posts",
            {
                "json": {
                    "media_id": media["id"],
                    "targets": [{"account_id": str(account), "youtube": {"title": "x"}}],
                }
            },
        ),
        ("/api/v1/media", {"content": VIDEO}),
    ):
        response = await client.http.post(path, headers=SIBLING, **extra)  # type: ignore[arg-type]
        assert response.status_code == 403, (path, response.text)
        assert response.json()["type"] == "https://cachalot.dev/problems/cross-origin-request"
    page = (await client.http.get("/api/v1/posts")).json()
    assert [p["id"] for p in page["items"]] == [post["id"]]
    assert (await client.get(post["id"]))["targets"][0]["status"] == "scheduled"


async def test_the_dashboards_own_page_cancels_a_post(queue: QueueServer) -> None:
    client = queue.client()
    post = await client.queue(youtube=await client.account("youtube"), at=at_offset(3600))
    response = await client.http.post(f"/api/v1/posts/{post['id']}/cancel", headers=OWN_PAGE)
    assert response.status_code == 200, response.text
    assert response.json()["targets"][0]["status"] == "cancelled"


@pytest.mark.parametrize(("content_type", "status"), [(None, 415), ("text/plain", 415)])
async def test_an_upload_must_say_it_is_a_video(
    queue: QueueServer, content_type: str | None, status: int
) -> None:
    client = queue.client()
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.http.post("/api/v1/media", content=VIDEO, headers=headers)
    assert response.status_code == status, response.text
    assert "video/*" in response.json()["accepted"]


async def test_an_upload_with_any_video_type_is_recognised_from_its_bytes(
    queue: QueueServer,
) -> None:
    media = await queue.client().upload(**{"Content-Type": "video/x-m4v"})
    assert media["content_type"] == "video/mp4"


async def test_a_post_body_is_json_and_bounded(queue: QueueServer) -> None:
    client = queue.client()
    as_text = await client.http.post(
        "/api/v1/posts", content=b'{"media_id": "x"}', headers={"Content-Type": "text/plain"}
    )
    assert as_text.status_code == 415
    cap = largest_body_bytes(PostCreate)  # the largest valid post, every character escaped
    huge = await client.http.post(
        "/api/v1/posts",
        json={"media_id": str(uuid.uuid4()), "targets": [], "pad": "x" * cap},
    )
    assert huge.status_code == 413
    assert huge.json()["max_bytes"] == cap


async def test_the_openapi_document_lists_the_guards_answers(queue: QueueServer) -> None:
    async with httpx.AsyncClient(base_url=queue.base_url) as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
    expected = {
        ("post", "/api/v1/posts"): {"401", "403", "413", "415"},
        ("post", "/api/v1/posts/{post_id}/cancel"): {"401", "403", "415"},
        ("post", "/api/v1/posts/{post_id}/retry"): {"401", "403", "415"},
        ("post", "/api/v1/media"): {"401", "403", "415"},
        ("get", "/api/v1/posts"): {"401"},
    }
    for (method, path), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), (method, path)
        assert all("application/problem+json" in responses[s]["content"] for s in statuses), (
            method,
            path,
        )
