"""The fake TikTok's photo posts (PULL_FROM_URL) over real HTTP, pulling from a real server."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from cachalot_testing.media import image_file
from cachalot_testing.ports import free_port
from cachalot_testing.processes import ServiceProcess

pytestmark = pytest.mark.timeout(300)
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200)


def jpeg(size: int = 3000) -> bytes:
    return b"\xff\xd8\xff\xe0" + os.urandom(size) + b"\xff\xd9"


class Images:
    """A tiny real HTTP server standing in for the gateway's signed media URLs."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.gets: list[str] = []
        images = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                images.gets.append(self.path)
                body = images.files.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def put(self, body: bytes) -> str:
        path = f"/api/v1/media/{hashlib.sha256(body).hexdigest()[:16]}?sig=s&exp=1"
        self.files[path] = body
        return self.url + path


@pytest.fixture(scope="module")
def images() -> Iterator[Images]:
    server = Images()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()


@pytest.fixture(scope="module")
def sandbox(images: Images, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # the default verified prefix is CACHALOT_PUBLIC_URL, where the gateway serves media
    process = ServiceProcess(
        "cachalot_sandbox",
        env={"CACHALOT_PUBLIC_URL": images.url},
        log_path=tmp_path_factory.mktemp("sbx") / "sandbox.log",
    ).start(timeout=120)
    yield process.base_url
    process.stop()


@pytest.fixture
def api(sandbox: str, images: Images) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox, timeout=30) as client:
        client.post("/sandbox/reset").raise_for_status()
        images.gets.clear()
        yield client


def mint(api: httpx.Client, scopes: list[str] | None = None) -> str:
    body = {"platform": "tiktok", "subject": "open-1", "scopes": scopes or ["video.publish"]}
    return str(api.post("/sandbox/tokens", json=body).json()["access_token"])


def photo_init(
    api: httpx.Client,
    token: str,
    urls: list[str],
    *,
    post_info: dict[str, Any] | None = None,
    cover: int = 0,
    **body: Any,
) -> httpx.Response:
    return api.post(
        "/tiktok/v2/post/publish/content/init/",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "post_info": {
                "title": "Trip",
                "description": "Days by the sea",
                "privacy_level": "PUBLIC_TO_EVERYONE",
                **(post_info or {}),
            },
            "source_info": {
                "source": "PULL_FROM_URL",
                "photo_images": urls,
                "photo_cover_index": cover,
            },
            "post_mode": "DIRECT_POST",
            "media_type": "PHOTO",
            **body,
        },
    )


def final_status(api: httpx.Client, token: str, publish_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = api.post(
            "/tiktok/v2/post/publish/status/fetch/",
            headers={"Authorization": f"Bearer {token}"},
            json={"publish_id": publish_id},
        )
        data = dict(response.json()["data"])
        if data["status"] not in ("PROCESSING_DOWNLOAD", "PROCESSING_UPLOAD"):
            return data
        time.sleep(0.05)
    raise TimeoutError(publish_id)


def error(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, str(response.json()["error"]["code"])


def test_three_photos_are_pulled_and_published_with_each_images_hash(
    api: httpx.Client, images: Images
) -> None:
    bodies = [jpeg(), jpeg(5000), jpeg(70_000)]
    urls = [images.put(b) for b in bodies]
    token = mint(api)
    response = photo_init(api, token, urls, cover=1)
    assert response.json()["error"]["code"] == "ok", response.text
    publish_id = response.json()["data"]["publish_id"]
    assert set(response.json()["data"]) == {"publish_id"}
    done = final_status(api, token, publish_id)
    assert done["status"] == "PUBLISH_COMPLETE"
    assert len(done["publicaly_available_post_id"]) == 1
    (post,) = api.get("/sandbox/tiktok/posts").json()["posts"]
    assert post["media_type"] == "PHOTO"
    assert [(i["sha256"], i["size"]) for i in post["images"]] == [
        (hashlib.sha256(b).hexdigest(), len(b)) for b in bodies
    ]
    assert post["post_info"]["title"] == "Trip"
    assert len(images.gets) == 3


def test_photo_init_refuses_what_tiktok_refuses(api: httpx.Client, images: Images) -> None:
    token = mint(api)
    api.post("/sandbox/tiktok/config", json={"rate_limits_enabled": False})
    url = images.put(jpeg())
    assert error(photo_init(api, token, [url] * 36)) == (400, "invalid_param")
    assert error(photo_init(api, token, [])) == (400, "invalid_param")
    assert error(photo_init(api, token, [url], cover=1)) == (400, "invalid_param")
    assert error(photo_init(api, token, [url], post_info={"title": "😀" * 45 + "a"})) == (
        400,
        "invalid_param",
    )
    assert error(photo_init(api, token, [url], post_info={"description": "a" * 4001})) == (
        400,
        "invalid_param",
    )
    assert error(photo_init(api, token, [url], media_type="VIDEO")) == (400, "invalid_param")
    # a host that merely starts like the verified one is not under it
    lookalike = url.replace(images.url, images.url + "0")
    assert error(photo_init(api, token, [lookalike])) == (403, "url_ownership_unverified")
    assert error(photo_init(api, token, ["https://elsewhere.example/a.jpg"])) == (
        403,
        "url_ownership_unverified",
    )
    api.post("/sandbox/tiktok/creator", json={"unaudited": True})
    assert error(photo_init(api, token, [url])) == (
        403,
        "unaudited_client_can_only_post_to_private_accounts",
    )
    no_scope = photo_init(api, mint(api, ["user.info.basic"]), [url])
    assert error(no_scope) == (401, "scope_not_authorized")
    assert images.gets == [], "nothing is pulled for a refused init"


def test_the_verified_prefixes_can_be_set_by_a_test(api: httpx.Client, images: Images) -> None:
    token = mint(api)
    url = images.put(jpeg())
    api.post("/sandbox/tiktok/config", json={"verified_url_prefixes": ["https://cdn.example/"]})
    assert error(photo_init(api, token, [url])) == (403, "url_ownership_unverified")
    api.post("/sandbox/tiktok/config", json={"verified_url_prefixes": [images.url + "/api/"]})
    assert photo_init(api, token, [url]).json()["error"]["code"] == "ok"


@pytest.mark.parametrize(
    ("body", "fail_reason"),
    [
        (None, "photo_pull_failed"),  # 404 at the URL
        (PNG, "file_format_check_failed"),
        (b"GIF89a" + os.urandom(100), "file_format_check_failed"),
    ],
)
def test_a_photo_that_cannot_be_pulled_or_read_fails_with_tiktoks_reason(
    api: httpx.Client, images: Images, body: bytes | None, fail_reason: str
) -> None:
    token = mint(api)
    bad = images.put(body) if body is not None else images.url + "/api/v1/media/missing"
    response = photo_init(api, token, [images.put(jpeg()), bad])
    done = final_status(api, token, response.json()["data"]["publish_id"])
    assert (done["status"], done["fail_reason"]) == ("FAILED", fail_reason)
    assert api.get("/sandbox/tiktok/posts").json()["posts"] == []


@pytest.mark.parametrize(
    ("width", "height", "fail_reason"),
    [(1080, 1920, None), (1920, 1080, None), (1080, 1922, "picture_size_check_failed"),
     (1200, 1200, "picture_size_check_failed")],
)  # fmt: skip
def test_a_photo_larger_than_1080p_fails_with_picture_size_check_failed(
    api: httpx.Client, images: Images, width: int, height: int, fail_reason: str | None
) -> None:
    token = mint(api)
    photo = image_file(width=width, height=height).read_bytes()
    response = photo_init(api, token, [images.put(jpeg()), images.put(photo)])
    done = final_status(api, token, response.json()["data"]["publish_id"])
    if fail_reason is None:
        assert done["status"] == "PUBLISH_COMPLETE", done
    else:
        assert (done["status"], done["fail_reason"]) == ("FAILED", fail_reason)


def test_an_armed_pull_fault_fails_the_post_with_photo_pull_failed(
    api: httpx.Client, images: Images
) -> None:
    token = mint(api)
    api.post("/sandbox/tiktok/faults", json={"endpoint": "pull", "kind": "http_5xx"})
    response = photo_init(api, token, [images.put(jpeg())])
    done = final_status(api, token, response.json()["data"]["publish_id"])
    assert (done["status"], done["fail_reason"]) == ("FAILED", "photo_pull_failed")


def test_a_photo_sent_to_the_inbox_needs_the_upload_scope_and_is_not_posted(
    api: httpx.Client, images: Images
) -> None:
    url = images.put(jpeg())
    refused = photo_init(api, mint(api), [url], post_mode="MEDIA_UPLOAD")
    assert error(refused) == (401, "scope_not_authorized")
    token = mint(api, ["video.upload"])
    response = photo_init(api, token, [url], post_mode="MEDIA_UPLOAD")
    done = final_status(api, token, response.json()["data"]["publish_id"])
    assert done["status"] == "SEND_TO_USER_INBOX"
    assert api.get("/sandbox/tiktok/posts").json()["posts"] == []
