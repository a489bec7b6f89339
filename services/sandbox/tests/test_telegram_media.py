"""The fake Bot API's uploads: sendVideo, sendPhoto, sendMediaGroup by multipart, with limits."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cachalot_sandbox import telegram, telegraph
from cachalot_sandbox.main import create_app
from cachalot_sandbox.settings import SandboxSettings

TOKEN = "4242:AAtestTOKENtestTOKENtestTOKENtestTOK"
CHANNEL_ID = -1001234567890
MB = 1024 * 1024


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(SandboxSettings(telegram_bot_token=TOKEN))  # type: ignore[arg-type]


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    telegram.reset()
    telegraph.reset()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        await http.post(
            "/sandbox/telegram/channels",
            json={
                "id": CHANNEL_ID,
                "username": "posts",
                "title": "Posts",
                "bot_status": "administrator",
            },
        )
        yield http
    telegram.reset()
    telegraph.reset()


def bot(method: str) -> str:
    return f"/telegram/bot{TOKEN}/{method}"


async def upload(
    client: httpx.AsyncClient, method: str, files: dict[str, tuple[str, bytes, str]], **data: Any
) -> httpx.Response:
    form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
    return await client.post(bot(method), data={"chat_id": str(CHANNEL_ID), **form}, files=files)


async def test_a_video_uploaded_by_multipart_is_posted_and_its_bytes_kept(client):
    video = os.urandom(300_000)
    answer = await upload(
        client,
        "sendVideo",
        {"video": ("clip.mp4", video, "video/mp4")},
        caption="<b>New</b> video",
        parse_mode="HTML",
        supports_streaming="true",
    )
    assert answer.status_code == 200, answer.text
    message = answer.json()["result"]
    assert message["caption"] == "New video"
    assert message["caption_entities"][0]["type"] == "bold"
    assert message["sender_chat"]["id"] == CHANNEL_ID
    posted = (await client.get("/sandbox/telegram/messages")).json()["messages"]
    assert [p["kind"] for p in posted] == ["video"]
    stored = posted[0]["files"][0]
    assert stored["sha256"] == hashlib.sha256(video).hexdigest()
    kept = await client.get(f"/sandbox/telegram/files/{stored['file_unique_id']}")
    assert kept.content == video


async def test_a_caption_over_1024_characters_after_parsing_is_refused(client):
    fits = "<b>" + "a" * 1024 + "</b>"
    ok = await upload(
        client,
        "sendPhoto",
        {"photo": ("p.jpg", b"\xff\xd8x", "image/jpeg")},
        caption=fits,
        parse_mode="HTML",
    )
    assert ok.status_code == 200, ok.text
    refused = await upload(
        client, "sendPhoto", {"photo": ("p.jpg", b"\xff\xd8x", "image/jpeg")}, caption="a" * 1025
    )
    assert refused.status_code == 400
    assert refused.json()["description"] == "Bad Request: message caption is too long"


async def test_an_upload_over_50_mb_is_refused_with_413_and_a_photo_over_10_mb_with_400(client):
    too_big = await upload(
        client, "sendVideo", {"video": ("v.mp4", b"\0" * (50 * MB + 1), "video/mp4")}
    )
    assert too_big.status_code == 413
    assert too_big.json()["description"] == "Request Entity Too Large"
    photo = await upload(
        client, "sendPhoto", {"photo": ("p.png", b"\0" * (10 * MB + 1), "image/png")}
    )
    assert photo.status_code == 400
    assert (await client.get("/sandbox/telegram/messages")).json()["count"] == 0


async def test_as_a_local_bot_api_server_the_fake_takes_uploads_over_50_mb() -> None:
    local = create_app(SandboxSettings(telegram_bot_token=TOKEN, telegram_local_bot_api=True))  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=local), base_url="http://sandbox"
        ) as http:
            telegram.reset()
            await http.post(
                "/sandbox/telegram/channels",
                json={"id": CHANNEL_ID, "title": "Posts", "bot_status": "administrator"},
            )
            body = os.urandom(1024) * (51 * 1024)
            sent = await upload(http, "sendVideo", {"video": ("v.mp4", body, "video/mp4")})
            assert sent.status_code == 200, sent.text
            [message] = (await http.get("/sandbox/telegram/messages")).json()["messages"]
            assert message["files"][0]["sha256"] == hashlib.sha256(body).hexdigest()
    finally:
        telegram.reset()
        create_app(SandboxSettings(telegram_bot_token=TOKEN))  # type: ignore[arg-type]  # the cloud cap again


async def test_a_media_group_posts_2_to_10_photos_from_attach_parts(client):
    photos = [os.urandom(1000 + i) for i in range(3)]
    media = [{"type": "photo", "media": f"attach://p{i}"} for i in range(3)]
    media[0] |= {"caption": "<i>three</i>", "parse_mode": "HTML"}
    files = {f"p{i}": (f"p{i}.jpg", data, "image/jpeg") for i, data in enumerate(photos)}
    answer = await upload(client, "sendMediaGroup", files, media=media)
    assert answer.status_code == 200, answer.text
    messages = answer.json()["result"]
    assert len(messages) == 3
    assert len({m["media_group_id"] for m in messages}) == 1
    assert messages[0]["caption"] == "three"
    posted = (await client.get("/sandbox/telegram/messages")).json()["messages"]
    assert [p["files"][0]["sha256"] for p in posted] == [
        hashlib.sha256(p).hexdigest() for p in photos
    ]
    one = await upload(
        client,
        "sendMediaGroup",
        {"p0": ("a.jpg", b"x", "image/jpeg")},
        media=[{"type": "photo", "media": "attach://p0"}],
    )
    assert one.status_code == 400


async def test_a_file_id_or_url_instead_of_an_upload_is_refused(client):
    answer = await client.post(
        bot("sendVideo"), data={"chat_id": str(CHANNEL_ID), "video": "https://example.com/v.mp4"}
    )
    assert answer.json()["description"] == "Bad Request: wrong file identifier/HTTP URL specified"


async def test_queued_faults_answer_posting_calls_with_retry_after_and_migrate_to_chat_id(client):
    await client.post(
        "/sandbox/telegram/faults",
        json={
            "responses": [
                {"status": 429, "retry_after": 2, "method": "sendPhoto", "hold_s": 0},
                {"status": 400, "migrate_to_chat_id": -1009999999999},
            ]
        },
    )
    photo = {"photo": ("p.jpg", b"x", "image/jpeg")}
    limited = await upload(client, "sendPhoto", photo)
    assert limited.status_code == 429
    assert limited.json()["parameters"] == {"retry_after": 2}
    moved = await client.post(bot("sendMessage"), json={"chat_id": CHANNEL_ID, "text": "hi"})
    assert moved.json()["parameters"] == {"migrate_to_chat_id": -1009999999999}
    assert (await upload(client, "sendPhoto", photo)).status_code == 200


async def test_a_bot_that_may_not_post_in_the_channel_is_refused(client):
    await client.post(
        "/sandbox/telegram/channels",
        json={"id": CHANNEL_ID, "username": "posts", "title": "Posts", "bot_status": "left"},
    )
    answer = await upload(client, "sendPhoto", {"photo": ("p.jpg", b"x", "image/jpeg")})
    assert answer.status_code == 403
    assert answer.json()["description"] == "Forbidden: bot is not a member of the channel chat"


async def test_telegraph_makes_an_account_and_pages_at_its_real_paths(client):
    account = (
        await client.post("/telegraph/createAccount", data={"short_name": "Cachalot"})
    ).json()
    token = account["result"]["access_token"]
    content = [{"tag": "p", "children": ["Hello ", {"tag": "b", "children": ["world"]}]}]
    made = await client.post(
        "/telegraph/createPage",
        data={"access_token": token, "title": "My Article", "content": json.dumps(content)},
    )
    page = made.json()["result"]
    assert page["path"].startswith("My-Article-")
    read = (await client.get(f"/telegraph/getPage/{page['path']}?return_content=true")).json()
    assert read["result"]["content"] == content
    wrong = await client.post(
        "/telegraph/createPage", data={"access_token": "nope", "title": "t", "content": "[]"}
    )
    assert wrong.json() == {"ok": False, "error": "ACCESS_TOKEN_INVALID"}
    script = [{"tag": "script", "children": ["x"]}]
    refused = await client.post(
        "/telegraph/createPage",
        data={"access_token": token, "title": "t", "content": json.dumps(script)},
    )
    assert refused.json() == {"ok": False, "error": "TAG_NOT_ALLOWED"}
