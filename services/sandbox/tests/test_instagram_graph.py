"""The fake Instagram content publishing API over real HTTP, as a publisher sees it."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from cachalot_testing.processes import ServiceProcess

pytestmark = pytest.mark.timeout(300)
JPEG = b"\xff\xd8\xff\xe0" + b"jpeg bytes" * 50
PUBLISH = ["instagram_business_basic", "instagram_business_content_publish"]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = ServiceProcess(
        "cachalot_sandbox", env={}, log_path=tmp_path_factory.mktemp("sbx") / "sandbox.log"
    ).start(timeout=120)
    yield process.base_url
    process.stop()


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    """Serves ``/<name>.jpg`` (image/jpeg) and ``/<name>.png`` (image/png), whole."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            png = self.path.endswith(".png")
            self.send_response(200)
            self.send_header("Content-Type", "image/png" if png else "image/jpeg")
            self.send_header("Content-Length", str(len(JPEG)))
            self.end_headers()
            self.wfile.write(JPEG)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def api(sandbox: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox, timeout=30) as client:
        client.post("/sandbox/reset").raise_for_status()
        client.post("/sandbox/instagram/graph/config", json={"processing_delay_s": 0.1})
        yield client


def mint(api: httpx.Client, scopes: list[str] = PUBLISH, subject: str = "1784001") -> str:
    body = {"platform": "instagram", "subject": subject, "scopes": scopes}
    return str(api.post("/sandbox/tokens", json=body).json()["access_token"])


def create(api: httpx.Client, token: str, **fields: str) -> httpx.Response:
    return api.post("/instagram/v23.0/me/media", data={"access_token": token, **fields})


def status(api: httpx.Client, token: str, container: str) -> dict[str, Any]:
    answer = api.get(
        f"/instagram/{container}",
        params={"fields": "status_code,status"},
        headers={"Authorization": f"Bearer {token}"},
    )
    return dict(answer.json())


def settle(api: httpx.Client, token: str, container: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while (found := status(api, token, container))["status_code"] == "IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return found


def publish(api: httpx.Client, token: str, container: str) -> httpx.Response:
    return api.post(
        "/instagram/me/media_publish",
        data={"creation_id": container},
        headers={"Authorization": f"Bearer {token}"},
    )


def test_an_image_container_is_fetched_processed_published_once_and_recorded(
    api: httpx.Client, files: str
) -> None:
    token = mint(api)
    container = create(api, token, image_url=f"{files}/a.jpg", caption="hi").json()["id"]
    early = publish(api, token, container)  # not FINISHED yet
    assert early.status_code == 400
    assert early.json()["error"]["error_subcode"] == 2207027
    assert settle(api, token, container)["status_code"] == "FINISHED"
    media_id = publish(api, token, container).json()["id"]
    assert status(api, token, container)["status_code"] == "PUBLISHED"
    again = publish(api, token, container)
    assert again.status_code == 400
    link = api.get(f"/instagram/{media_id}", params={"fields": "permalink", "access_token": token})
    assert link.json()["permalink"].startswith("https://www.instagram.com/p/")
    (post,) = api.get("/sandbox/instagram/graph/media").json()["media"]
    assert post["items"][0]["sha256"] == hashlib.sha256(JPEG).hexdigest()


def test_the_fake_refuses_what_instagram_refuses(api: httpx.Client, files: str) -> None:
    token = mint(api)
    assert create(api, token, media_type="VIDEO", video_url=f"{files}/v").status_code == 400
    assert create(api, token, media_type="REELS").status_code == 400  # no video_url
    tags = " ".join(f"#t{i}" for i in range(31))
    refused = create(api, token, image_url=f"{files}/a.jpg", caption=tags)
    assert refused.status_code == 400
    assert "hashtags" in refused.json()["error"]["message"]
    basic = mint(api, scopes=["instagram_business_basic"], subject="1784002")
    assert create(api, basic, image_url=f"{files}/a.jpg").status_code == 403
    assert create(api, "not-a-token", image_url=f"{files}/a.jpg").status_code == 401
    png = create(api, token, image_url=f"{files}/a.png").json()["id"]
    found = settle(api, token, png)
    assert found["status_code"] == "ERROR"
    assert "2207005" in found["status"]


def test_injected_errors_and_expiry_end_the_container(api: httpx.Client, files: str) -> None:
    token = mint(api)
    api.post("/sandbox/instagram/graph/faults", json={"kind": "error", "subcode": 2207026})
    failed = create(api, token, image_url=f"{files}/a.jpg").json()["id"]
    assert "2207026" in settle(api, token, failed)["status"]
    api.post("/sandbox/instagram/graph/faults", json={"kind": "expire"})
    expired = create(api, token, image_url=f"{files}/a.jpg").json()["id"]
    assert settle(api, token, expired)["status_code"] == "EXPIRED"
    assert publish(api, token, expired).json()["error"]["error_subcode"] == 2207020


def test_the_publishing_quota_is_enforced_at_media_publish_and_reported(
    api: httpx.Client, files: str
) -> None:
    token = mint(api, subject="1784003")
    api.post("/sandbox/instagram/graph/config", json={"quota_total": 1, "quota_duration_s": 2})
    try:
        first, second = (
            create(api, token, image_url=f"{files}/{n}.jpg").json()["id"] for n in "ab"
        )
        settle(api, token, first)
        settle(api, token, second)
        assert publish(api, token, first).status_code == 200
        limit = api.get(
            "/instagram/me/content_publishing_limit",
            params={"fields": "quota_usage,config", "access_token": token},
        ).json()
        assert limit["data"][0] == {
            "quota_usage": 1,
            "config": {"quota_total": 1, "quota_duration": 2},
        }
        refused = publish(api, token, second)
        assert refused.json()["error"]["error_subcode"] == 2207042
        time.sleep(2.1)
        assert publish(api, token, second).status_code == 200
    finally:
        api.post(
            "/sandbox/instagram/graph/config", json={"quota_total": 50, "quota_duration_s": 86400}
        )


def test_a_carousel_takes_two_to_ten_finished_items_of_the_same_user(
    api: httpx.Client, files: str
) -> None:
    token = mint(api)
    items = [
        create(api, token, image_url=f"{files}/{n}.jpg", is_carousel_item="true").json()["id"]
        for n in "abc"
    ]
    for item in items:
        settle(api, token, item)
    assert create(api, token, media_type="CAROUSEL", children=items[0]).status_code == 400
    album = create(api, token, media_type="CAROUSEL", children=",".join(items)).json()["id"]
    settle(api, token, album)
    assert publish(api, token, items[0]).status_code == 400  # items go out with their album
    assert publish(api, token, album).status_code == 200
    (post,) = api.get("/sandbox/instagram/graph/media").json()["media"]
    assert (post["media_type"], len(post["items"])) == ("CAROUSEL_ALBUM", 3)
