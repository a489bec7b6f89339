"""The fake videos.insert follows Google's resumable upload protocol."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import mint_token

pytestmark = pytest.mark.integration

CHUNK = 256 * 1024
START = "/youtube/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status"
METADATA = {
    "snippet": {"title": "Sandbox clip", "description": "made by a test", "tags": ["a"]},
    "status": {"privacyStatus": "unlisted", "selfDeclaredMadeForKids": False},
}


def start(
    http: httpx.Client, token: str, total: int, metadata: dict[str, Any] | None = None
) -> httpx.Response:
    return http.post(
        START,
        json=metadata or METADATA,
        headers={
            "Authorization": f"Bearer {token}",
            "X-Upload-Content-Length": str(total),
            "X-Upload-Content-Type": "video/mp4",
        },
    )


def put(
    http: httpx.Client, session: str, token: str, body: bytes, first: int, total: int
) -> httpx.Response:
    content_range = f"bytes {first}-{first + len(body) - 1}/{total}" if body else f"bytes */{total}"
    return http.put(
        session,
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Range": content_range,
            "Content-Type": "video/mp4",
        },
    )


def reason(response: httpx.Response) -> str:
    error = response.json()["error"]
    assert error["code"] == response.status_code
    assert error["status"]
    return str(error["errors"][0]["reason"])


def test_chunked_upload_answers_308_with_range_then_the_video(
    client: httpx.Client, token: str, video_file: Path
) -> None:
    data = video_file.read_bytes()
    opened = start(client, token, len(data))
    assert opened.status_code == 200
    session = opened.headers["location"]
    assert "upload_id=" in session
    assert session.startswith(str(client.base_url))

    first = put(client, session, token, data[:CHUNK], 0, len(data))
    assert first.status_code == 308
    assert first.headers["range"] == f"bytes=0-{CHUNK - 1}"
    second = put(client, session, token, data[CHUNK : 2 * CHUNK], CHUNK, len(data))
    assert second.headers["range"] == f"bytes=0-{2 * CHUNK - 1}"
    last = put(client, session, token, data[2 * CHUNK :], 2 * CHUNK, len(data))

    assert last.status_code == 201
    video = last.json()
    assert video["kind"] == "youtube#video"
    assert video["snippet"]["title"] == "Sandbox clip"
    assert video["status"]["privacyStatus"] == "unlisted"
    landed = client.get("/sandbox/youtube/videos").json()["videos"]
    assert [(v["id"], v["sha256"]) for v in landed] == [
        (video["id"], hashlib.sha256(data).hexdigest())
    ]


def test_status_query_reports_what_was_received(
    client: httpx.Client, token: str, video_file: Path
) -> None:
    data = video_file.read_bytes()
    session = start(client, token, len(data)).headers["location"]

    empty = put(client, session, token, b"", 0, len(data))
    assert empty.status_code == 308
    assert "range" not in empty.headers
    put(client, session, token, data[:CHUNK], 0, len(data))
    after = put(client, session, token, b"", 0, len(data))
    assert after.headers["range"] == f"bytes=0-{CHUNK - 1}"


def test_a_chunk_that_is_not_a_multiple_of_256_kib_is_refused(
    client: httpx.Client, token: str, video_file: Path
) -> None:
    data = video_file.read_bytes()
    session = start(client, token, len(data)).headers["location"]

    response = put(client, session, token, data[: CHUNK + 1], 0, len(data))

    assert response.status_code == 400
    assert reason(response) == "badContent"


def test_a_chunk_that_skips_bytes_is_refused(
    client: httpx.Client, token: str, video_file: Path
) -> None:
    data = video_file.read_bytes()
    session = start(client, token, len(data)).headers["location"]

    response = put(client, session, token, data[CHUNK : 2 * CHUNK], CHUNK, len(data))

    assert response.status_code == 400


@pytest.mark.parametrize(
    ("snippet", "status", "expected"),
    [
        ({"title": ""}, {}, "invalidTitle"),
        ({"title": "x" * 101}, {}, "invalidTitle"),
        ({"title": "a <b>"}, {}, "invalidTitle"),
        ({"title": "ok", "description": "é" * 2501}, {}, "invalidDescription"),
        ({"title": "ok"}, {"privacyStatus": "friends"}, "invalidValue"),
    ],
)
def test_bad_metadata_is_refused_with_googles_reason(
    client: httpx.Client, token: str, snippet: dict[str, Any], status: dict[str, Any], expected: str
) -> None:
    response = start(client, token, 1000, {"snippet": snippet, "status": status})

    assert response.status_code == 400
    assert reason(response) == expected


def test_session_start_requires_upload_headers(client: httpx.Client, token: str) -> None:
    response = client.post(START, json=METADATA, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 400


def test_a_missing_expired_or_narrow_token_is_refused(client: httpx.Client) -> None:
    assert start(client, "not-a-token", 1000).status_code == 401
    narrow = mint_token(client, scope="https://www.googleapis.com/auth/youtube.readonly")
    assert start(client, narrow, 1000).status_code == 403
    token = mint_token(client, channel="UCexpired")
    client.post(
        "/sandbox/tokens/expire", json={"platform": "google", "subject": "UCexpired"}
    ).raise_for_status()
    response = start(client, token, 1000)
    assert response.status_code == 401
    assert reason(response) == "authError"


def test_each_insert_costs_1600_units_until_the_quota_is_gone(
    client: httpx.Client, token: str
) -> None:
    client.post("/sandbox/youtube/quota", json={"daily_units": 3200}).raise_for_status()

    assert start(client, token, 1000).status_code == 200
    assert start(client, token, 1000).status_code == 200
    third = start(client, token, 1000)

    assert third.status_code == 403
    assert reason(third) == "quotaExceeded"
    assert third.json()["error"]["errors"][0]["domain"] == "youtube.quota"


def test_the_channel_upload_cap_answers_upload_limit_exceeded(
    client: httpx.Client, token: str
) -> None:
    client.post("/sandbox/youtube/quota", json={"channel_daily_uploads": 1}).raise_for_status()

    assert start(client, token, 1000).status_code == 200
    second = start(client, token, 1000)

    assert second.status_code == 400
    assert reason(second) == "uploadLimitExceeded"


def test_an_expired_session_answers_404(client: httpx.Client, token: str) -> None:
    session = start(client, token, 1000).headers["location"]
    client.post("/sandbox/youtube/sessions/expire").raise_for_status()

    response = put(client, session, token, b"", 0, 1000)

    assert response.status_code == 404


def test_a_dropped_connection_keeps_the_bytes_that_arrived(
    client: httpx.Client, token: str, video_file: Path
) -> None:
    data = video_file.read_bytes()
    session = start(client, token, len(data)).headers["location"]
    client.post(
        "/sandbox/youtube/faults", json={"kind": "drop_mid_chunk", "accept_bytes": 100_000}
    ).raise_for_status()

    with pytest.raises(httpx.TransportError):
        put(client, session, token, data[: 2 * CHUNK], 0, len(data))

    status = put(client, session, token, b"", 0, len(data))
    assert status.headers["range"] == "bytes=0-99999"
    done = put(client, session, token, data[100_000:], 100_000, len(data))
    assert done.status_code == 201
    landed = client.get("/sandbox/youtube/videos").json()["videos"]
    assert landed[0]["sha256"] == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("fault", "status", "expected"),
    [
        ({"kind": "server_error", "status": 503}, 503, "backendError"),
        ({"kind": "rate_limit", "retry_after_s": 7}, 429, "rateLimitExceeded"),
        ({"kind": "unauthorized"}, 401, "authError"),
    ],
)
def test_armed_faults_fire_once_on_the_next_chunk(
    client: httpx.Client,
    token: str,
    video_file: Path,
    fault: dict[str, Any],
    status: int,
    expected: str,
) -> None:
    data = video_file.read_bytes()
    session = start(client, token, len(data)).headers["location"]
    client.post("/sandbox/youtube/faults", json=fault).raise_for_status()

    failed = put(client, session, token, data[:CHUNK], 0, len(data))
    assert failed.status_code == status
    assert reason(failed) == expected
    if status == 429:
        assert failed.headers["retry-after"] == "7"
    assert put(client, session, token, data[:CHUNK], 0, len(data)).status_code == 308


def test_an_unaudited_project_only_uploads_private_videos(
    client: httpx.Client, token: str, video_file: Path
) -> None:
    client.post("/sandbox/youtube/quota", json={"unaudited": True}).raise_for_status()
    data = video_file.read_bytes()
    session = start(client, token, len(data)).headers["location"]

    done = put(client, session, token, data, 0, len(data))

    assert done.status_code == 201
    assert done.json()["status"]["privacyStatus"] == "private"
