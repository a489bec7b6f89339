"""The fake VK API over real HTTP, held to VK's rules (shared/reference/platforms.md §4.2–4.4)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from cachalot_testing.processes import ServiceProcess

pytestmark = pytest.mark.timeout(300)
PNG = b"\x89PNG\r\n\x1a\n" + b"x" * 100


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = ServiceProcess(
        "cachalot_sandbox", env={}, log_path=tmp_path_factory.mktemp("sbx") / "sandbox.log"
    ).start(timeout=120)
    yield process.base_url
    process.stop()


@pytest.fixture
def api(sandbox: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox, timeout=30) as client:
        client.post("/sandbox/vk/reset").raise_for_status()
        yield client


def mint(api: httpx.Client, scopes: tuple[str, ...] = ("wall", "photos", "video")) -> str:
    body = {"platform": "vk", "subject": "501", "scopes": list(scopes)}
    return str(api.post("/sandbox/tokens", json=body).json()["access_token"])


def call(api: httpx.Client, token: str, method: str, **params: object) -> dict[str, object]:
    time.sleep(0.34)  # within 3 calls a second
    form = {"v": "5.199", "access_token": token} | {k: str(v) for k, v in params.items()}
    response = api.post(f"/vk/method/{method}", data=form)
    assert response.status_code == 200  # VK answers errors with HTTP 200 too
    return dict(response.json())


def test_errors_come_with_http_200_and_never_echo_the_token(api: httpx.Client) -> None:
    token = mint(api)
    response = api.post("/vk/method/wall.post", data={"access_token": token, "message": "x"})
    assert response.status_code == 200
    error = response.json()["error"]
    assert error["error_code"] == 8
    assert token not in response.text


def test_a_json_body_is_refused_as_vk_does(api: httpx.Client) -> None:
    token = mint(api)
    response = api.post(
        "/vk/method/wall.post",
        json={"v": "5.199", "message": "x"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.json()["error"]["error_code"] == 8


def test_a_fourth_call_within_a_second_is_error_6(api: httpx.Client) -> None:
    token = mint(api)
    codes = []
    for _ in range(4):
        body = {"v": "5.199", "access_token": token}
        codes.append(
            api.post("/vk/method/users.get", data=body).json().get("error", {}).get("error_code")
        )
    assert codes == [None, None, None, 6]


def test_an_unknown_or_expired_token_is_error_5(api: httpx.Client) -> None:
    assert call(api, "nope", "users.get")["error"]["error_code"] == 5  # type: ignore[index]


def test_a_method_without_its_right_is_error_15(api: httpx.Client) -> None:
    token = mint(api, ("wall",))
    assert call(api, token, "photos.getWallUploadServer")["error"]["error_code"] == 15  # type: ignore[index]


def test_a_photo_goes_up_through_the_upload_server_and_wall_post_is_idempotent_on_guid(
    api: httpx.Client,
) -> None:
    token = mint(api)
    server = call(api, token, "photos.getWallUploadServer")["response"]
    uploaded = api.post(server["upload_url"], files={"photo": ("a.png", PNG, "image/png")}).json()  # type: ignore[index]
    (photo,) = call(api, token, "photos.saveWallPhoto", **uploaded)["response"]  # type: ignore[misc]
    attachment = f"photo{photo['owner_id']}_{photo['id']}"
    first = call(api, token, "wall.post", message="hi", attachments=attachment, guid="g-1")
    again = call(api, token, "wall.post", message="hi", attachments=attachment, guid="g-1")
    assert first == again
    (post,) = api.get("/sandbox/vk/posts").json()["posts"]
    assert post["owner_id"] == 501
    assert post["attachments"] == [attachment]


def test_an_upload_url_is_good_for_one_upload_and_needs_its_field(api: httpx.Client) -> None:
    token = mint(api)
    saved = call(api, token, "video.save", name="v")["response"]
    url = saved["upload_url"]  # type: ignore[index]
    wrong = api.post(url, files={"file": ("v.mp4", b"data", "video/mp4")}).json()
    assert "error" in wrong
    again = api.post(url, files={"video_file": ("v.mp4", b"data", "video/mp4")}).json()
    assert "error" in again  # one-shot: the first (wrong) upload used it


def test_each_finished_upload_is_listed_with_its_size_and_timing_for_benchmarks(
    api: httpx.Client,
) -> None:
    token = mint(api)
    url = call(api, token, "video.save", name="v")["response"]["upload_url"]  # type: ignore[index]
    before = time.time()
    api.post(url, files={"video_file": ("v.mp4", b"d" * 5000, "video/mp4")}).raise_for_status()
    [upload] = api.get("/sandbox/vk/posts").json()["uploads"]
    assert (upload["kind"], upload["user_id"], upload["size"]) == ("video", "501", 5000)
    assert before <= upload["started_at"] <= upload["completed_at"] <= time.time()


def test_posting_on_a_wall_the_user_does_not_administer_is_error_214(api: httpx.Client) -> None:
    token = mint(api)
    assert call(api, token, "wall.post", owner_id=-99, message="x")["error"]["error_code"] == 214  # type: ignore[index]


def test_an_armed_fault_answers_its_code_then_clears(api: httpx.Client) -> None:
    token = mint(api)
    api.post("/sandbox/vk/faults", json={"method": "wall.post", "code": 14}).raise_for_status()
    error = call(api, token, "wall.post", message="x")["error"]
    assert error["error_code"] == 14
    assert "captcha_sid" in error
    assert "response" in call(api, token, "wall.post", message="x")


def test_groups_get_lists_the_communities_the_user_administers_with_filter_admin(
    api: httpx.Client,
) -> None:
    """groups.get as VK answers it: ids by default, objects with ``extended=1``; ``filter=admin``
    keeps the communities the user runs, none it only belongs to; ``offset``/``count`` page."""
    for community in (
        {"id": 30, "admins": ["501"], "name": "Whales", "screen_name": "whales"},
        {"id": 10, "admins": ["501", "777"]},
        {"id": 20, "admins": ["777"], "members": ["501"]},
        {"id": 40, "admins": ["777"]},
    ):
        api.post("/sandbox/vk/communities", json=community).raise_for_status()
    token = mint(api, ("wall", "groups"))
    assert call(api, token, "groups.get", filter="admin")["response"] == {
        "count": 2,
        "items": [10, 30],
    }
    assert call(api, token, "groups.get")["response"] == {"count": 3, "items": [10, 20, 30]}
    assert call(api, token, "groups.get", filter="admin", offset=1, count=1)["response"] == {
        "count": 2,
        "items": [30],
    }
    extended = call(api, token, "groups.get", filter="admin", extended=1)["response"]
    assert extended["count"] == 2  # type: ignore[index]
    whales = extended["items"][1]  # type: ignore[index]
    assert (whales["id"], whales["name"], whales["is_admin"], whales["admin_level"]) == (
        30,
        "Whales",
        1,
        3,
    )
    first = extended["items"][0]  # type: ignore[index]
    assert (whales["screen_name"], first["screen_name"], first["name"]) == (
        "whales",
        "club10",  # VK's address for a community that chose none
        "Community 10",
    )
    assert first["photo_50"].endswith(".png")  # every group object has its photos
    assert call(api, token, "groups.get", filter="nonsense")["error"]["error_code"] == 100  # type: ignore[index]
    without = mint(api, ("wall",))
    assert call(api, without, "groups.get", filter="admin")["error"]["error_code"] == 15  # type: ignore[index]
