"""Text no database or broker can store is refused at the door, naming its field (issue 8.7)."""

from __future__ import annotations

import asyncio
import json

import httpx
import hypothesis
import pytest
from hypothesis import strategies as st
from queue_support import QueueServer

pytestmark = pytest.mark.integration


def _escaped(body: dict[str, object]) -> bytes:
    """JSON with every non-ASCII character escaped, so lone surrogates travel as ``\\udfff``."""
    return json.dumps(body, ensure_ascii=True).encode()


@pytest.mark.parametrize(
    ("youtube", "field"),
    [
        ({"title": "\udfff"}, "targets[0].youtube.title"),
        ({"title": "ok", "tags": ["fine", "bad\ud800"]}, "targets[0].youtube.tags[1]"),
        ({"title": "ok", "description": "\udc00 tail"}, "targets[0].youtube.description"),
    ],
)
async def test_a_lone_surrogate_in_a_youtube_field_is_a_422_naming_it_and_nothing_is_queued(
    queue: QueueServer, youtube: dict[str, object], field: str
) -> None:
    client = queue.client()
    account = await client.account("youtube")
    media = await client.upload()
    body = {"media_id": media["id"], "targets": [{"account_id": str(account), "youtube": youtube}]}
    response = await client.http.post(
        "/api/v1/posts", content=_escaped(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == [field]
    listed = await client.http.get("/api/v1/posts")
    assert listed.json()["items"] == []


async def test_a_lone_surrogate_in_a_tiktok_caption_is_a_422_too(queue: QueueServer) -> None:
    client = queue.client()
    account = await client.account("tiktok")
    media = await client.upload()
    body = {
        "media_id": media["id"],
        "targets": [
            {
                "account_id": str(account),
                "tiktok": {"privacy_level": "SELF_ONLY", "caption": "x\udfff"},
            }
        ],
    }
    response = await client.http.post(
        "/api/v1/posts", content=_escaped(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["targets[0].tiktok.caption"]


async def test_an_emoji_written_as_a_surrogate_pair_is_queued_as_usual(queue: QueueServer) -> None:
    client = queue.client()
    account = await client.account("youtube")
    media = await client.upload()
    body = {
        "media_id": media["id"],
        "targets": [{"account_id": str(account), "youtube": {"title": "launch 🚀"}}],
    }
    response = await client.http.post(
        "/api/v1/posts", content=_escaped(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["targets"][0]["options"]["title"] == "launch 🚀"


@pytest.mark.parametrize(
    "youtube",
    [
        {"title": "nul\u0000inside"},
        {"title": "ok", "tags": ["a\u0000b"]},
        {"title": "ok", "description": "\u0000"},
    ],
)
async def test_a_nul_character_in_a_youtube_field_is_never_a_5xx(
    queue: QueueServer, youtube: dict[str, object]
) -> None:
    client = queue.client()
    account = await client.account("youtube")
    media = await client.upload()
    body = {"media_id": media["id"], "targets": [{"account_id": str(account), "youtube": youtube}]}
    response = await client.http.post(
        "/api/v1/posts", content=_escaped(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text


# Any code point, surrogates and controls included, as JSON can carry them.
# (Hypothesis leaves surrogates out of characters() whatever it is told; added here.)
_ANY_TEXT = st.text(
    alphabet=st.one_of(st.characters(codec=None), st.integers(0xD800, 0xDFFF).map(chr)),
    max_size=40,
)


async def test_any_text_in_every_text_field_is_queued_or_refused_naming_it_never_a_5xx(
    queue: QueueServer,
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    tiktok = await client.account("tiktok")
    media = await client.upload()
    cookies = dict(client.http.cookies)

    @hypothesis.settings(
        max_examples=30, derandomize=True, database=None, deadline=None, print_blob=False
    )
    @hypothesis.given(
        title=_ANY_TEXT,
        description=_ANY_TEXT,
        tags=st.lists(_ANY_TEXT, max_size=3),
        caption=_ANY_TEXT,
    )
    def post(title: str, description: str, tags: list[str], caption: str) -> None:
        body = {
            "media_id": media["id"],
            "targets": [
                {
                    "account_id": str(youtube),
                    "youtube": {"title": title, "description": description, "tags": tags},
                },
                {
                    "account_id": str(tiktok),
                    "tiktok": {"privacy_level": "SELF_ONLY", "caption": caption},
                },
            ],
        }
        with httpx.Client(base_url=queue.base_url, cookies=cookies, timeout=30) as http:
            response = http.post(
                "/api/v1/posts",
                content=_escaped(body),
                headers={"Content-Type": "application/json"},
            )
        assert response.status_code in (201, 422), response.text
        if response.status_code == 422:
            assert response.headers["content-type"] == "application/problem+json"
            assert all(e["field"].startswith("targets[") for e in response.json()["errors"])

    await asyncio.to_thread(post)
