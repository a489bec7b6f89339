"""The fake TikTok Content Posting API over real HTTP, as a publisher sees it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import httpx
import pytest

from cachalot_sandbox.tiktok_content.chunks import MIN_CHUNK, ChunkPlanError, check_plan
from cachalot_testing.processes import ServiceProcess

MB = 1024 * 1024
pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = ServiceProcess(
        "cachalot_sandbox", env={}, log_path=tmp_path_factory.mktemp("sbx") / "sandbox.log"
    ).start(timeout=120)  # a loaded two-core machine imports slowly
    yield process.base_url
    process.stop()


@pytest.fixture
def api(sandbox: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox, timeout=30) as client:
        client.post("/sandbox/reset").raise_for_status()
        yield client


def mint(api: httpx.Client, scopes: list[str] | None = None, subject: str = "open-1") -> str:
    body = {"platform": "tiktok", "subject": subject, "scopes": scopes or ["video.publish"]}
    return str(api.post("/sandbox/tokens", json=body).json()["access_token"])


def init(
    api: httpx.Client, token: str, size: int, chunk: int, count: int, privacy: str = "SELF_ONLY"
) -> httpx.Response:
    return api.post(
        "/tiktok/v2/post/publish/video/init/",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "post_info": {"title": "hello", "privacy_level": privacy},
            "source_info": {
                "source": "FILE_UPLOAD",
                "video_size": size,
                "chunk_size": chunk,
                "total_chunk_count": count,
            },
        },
    )


def put(api: httpx.Client, url: str, data: bytes, first: int, total: int) -> httpx.Response:
    return api.put(
        url,
        content=data,
        headers={
            "Content-Type": "video/mp4",
            "Content-Range": f"bytes {first}-{first + len(data) - 1}/{total}",
        },
    )


def status(api: httpx.Client, token: str, publish_id: str) -> dict[str, object]:
    response = api.post(
        "/tiktok/v2/post/publish/status/fetch/",
        headers={"Authorization": f"Bearer {token}"},
        json={"publish_id": publish_id},
    )
    assert response.json()["error"]["code"] == "ok", response.text
    return dict(response.json()["data"])


def test_chunk_rules_follow_the_media_transfer_guide() -> None:
    assert check_plan(50_000_123, 10_000_000, 5).chunk_length(4) == 10_000_123
    assert check_plan(1000, 1000, 1).total_chunk_count == 1
    for args in [
        (1000, 500, 2),  # small video split
        (12 * MB, 4 * MB, 3),  # chunk under 5 MB
        (12 * MB, 6 * MB, 3),  # wrong count
        (100_000_000, 100_000_000, 1),  # over 64 MB in one chunk
        (10 * MB, MIN_CHUNK, 3),
    ]:
        with pytest.raises(ChunkPlanError):
            check_plan(*args)


def test_a_chunked_upload_is_published_with_identical_bytes(api: httpx.Client) -> None:
    token = mint(api)
    data = os.urandom(12 * MB + 123)
    chunk = 6 * MB
    response = init(api, token, len(data), chunk, 2)
    assert response.json()["error"]["code"] == "ok", response.text
    publish_id = response.json()["data"]["publish_id"]
    url = response.json()["data"]["upload_url"]
    assert status(api, token, publish_id)["status"] == "PROCESSING_UPLOAD"
    first = put(api, url, data[:chunk], 0, len(data))
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-{chunk}/{len(data)}"
    assert put(api, url, data[:chunk], 0, len(data)).status_code == 416
    last = put(api, url, data[chunk:], chunk, len(data))
    assert last.status_code == 201
    fetched = status(api, token, publish_id)
    assert fetched["status"] == "PUBLISH_COMPLETE"
    assert fetched["uploaded_bytes"] == len(data)
    assert "publicaly_available_post_id" in fetched
    posts = api.get("/sandbox/tiktok/posts").json()
    assert posts["counts_by_sha256"] == {hashlib.sha256(data).hexdigest(): 1}


def test_init_refuses_what_tiktok_refuses(api: httpx.Client) -> None:
    token = mint(api)
    bad_chunks = init(api, token, 12 * MB, 4 * MB, 3)
    assert (bad_chunks.status_code, bad_chunks.json()["error"]["code"]) == (400, "invalid_param")
    api.post("/sandbox/tiktok/creator", json={"unaudited": True})
    unaudited = init(api, token, 1000, 1000, 1, privacy="PUBLIC_TO_EVERYONE")
    assert unaudited.status_code == 403
    assert unaudited.json()["error"]["code"] == "unaudited_client_can_only_post_to_private_accounts"
    api.post(
        "/sandbox/tiktok/creator",
        json={"unaudited": False, "privacy_level_options": ["FOLLOWER_OF_CREATOR", "SELF_ONLY"]},
    )
    mismatch = init(api, token, 1000, 1000, 1, privacy="PUBLIC_TO_EVERYONE")
    assert mismatch.json()["error"]["code"] == "privacy_level_option_mismatch"
    no_scope = init(api, mint(api, scopes=["user.info.basic"]), 1000, 1000, 1)
    assert (no_scope.status_code, no_scope.json()["error"]["code"]) == (401, "scope_not_authorized")
    bad_token = init(api, "nope", 1000, 1000, 1)
    assert (bad_token.status_code, bad_token.json()["error"]["code"]) == (
        401,
        "access_token_invalid",
    )
    assert bad_token.json()["error"]["log_id"]


def test_init_is_limited_to_six_a_minute_per_token(api: httpx.Client) -> None:
    token = mint(api)
    codes = [init(api, token, 1000, 1000, 1).status_code for _ in range(7)]
    assert codes == [200] * 6 + [429]
    assert init(api, mint(api, subject="open-2"), 1000, 1000, 1).status_code == 200


def test_upload_checks_type_length_and_url(api: httpx.Client) -> None:
    token = mint(api)
    url = init(api, token, 1000, 1000, 1).json()["data"]["upload_url"]
    wrong_type = api.put(
        url,
        content=b"x" * 1000,
        headers={"Content-Type": "application/octet-stream", "Content-Range": "bytes 0-999/1000"},
    )
    assert wrong_type.status_code == 400
    assert put(api, url, b"x" * 999, 0, 1000).status_code == 416
    assert put(api, url + "x", b"x" * 1000, 0, 1000).status_code == 404


def test_faults_fire_once_then_the_api_recovers(api: httpx.Client) -> None:
    token = mint(api)
    api.post("/sandbox/tiktok/faults", json={"endpoint": "init", "kind": "http_5xx"})
    assert init(api, token, 1000, 1000, 1).status_code == 500
    url = init(api, token, 1000, 1000, 1).json()["data"]["upload_url"]
    api.post("/sandbox/tiktok/faults", json={"endpoint": "upload", "kind": "drop_connection"})
    with pytest.raises(httpx.HTTPError):
        put(api, url, b"x" * 1000, 0, 1000).read()
    assert put(api, url, b"x" * 1000, 0, 1000).status_code == 201
