"""search.list (forMine) and videos.list on the sandbox: a channel finds its own uploads."""

from __future__ import annotations

import httpx

from .conftest import mint_token
from .test_resumable_upload import METADATA, start

READ_SCOPE = "https://www.googleapis.com/auth/youtube.readonly"


def upload(http: httpx.Client, token: str, body: bytes) -> str:
    session = start(http, token, len(body)).headers["location"]
    done = http.put(
        session,
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Range": f"bytes 0-{len(body) - 1}/{len(body)}",
        },
    )
    assert done.status_code == 201, done.text
    return str(done.json()["id"])


def test_a_channel_finds_its_own_upload_by_title_and_reads_its_file_size(
    client: httpx.Client, token: str
) -> None:
    video_id = upload(client, token, b"x" * 1000)
    upload(client, mint_token(client, channel="UCsomeoneelse"), b"y" * 1000)
    reader = mint_token(client, scope=READ_SCOPE)
    title = METADATA["snippet"]["title"]  # type: ignore[index]

    found = client.get(
        "/youtube/youtube/v3/search",
        params={"part": "snippet", "forMine": "true", "type": "video", "q": title},
        headers={"Authorization": f"Bearer {reader}"},
    )
    listed = client.get(
        "/youtube/youtube/v3/videos",
        params={"part": "fileDetails,status", "id": video_id},
        headers={"Authorization": f"Bearer {reader}"},
    )
    stranger = mint_token(client, channel="UCsomeoneelse", scope=READ_SCOPE)
    seen_by_stranger = client.get(
        "/youtube/youtube/v3/videos",
        params={"part": "fileDetails", "id": video_id},
        headers={"Authorization": f"Bearer {stranger}"},
    )

    assert [i["id"]["videoId"] for i in found.json()["items"]] == [video_id]
    assert listed.json()["items"][0]["fileDetails"]["fileSize"] == "1000"
    assert "fileDetails" not in seen_by_stranger.json()["items"][0], "owner-only"


def test_listing_needs_a_reading_scope_and_search_costs_100_units(
    client: httpx.Client, token: str
) -> None:
    query = {"part": "snippet", "forMine": "true", "type": "video", "q": "x"}
    upload_only = client.get(
        "/youtube/youtube/v3/search", params=query, headers={"Authorization": f"Bearer {token}"}
    )
    used = client.get("/sandbox/youtube/quota").json()["used_units"]
    reader = mint_token(client, scope=READ_SCOPE)
    client.get(
        "/youtube/youtube/v3/search", params=query, headers={"Authorization": f"Bearer {reader}"}
    ).raise_for_status()

    assert upload_only.status_code == 403
    assert upload_only.json()["error"]["errors"][0]["reason"] == "insufficientPermissions"
    assert client.get("/sandbox/youtube/quota").json()["used_units"] == used + 100
