"""Pure pieces of publisher-telegram: the streamed multipart body, announcements, links."""

from __future__ import annotations

import asyncio
import os
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

from cachalot_common.articles import parse, telegram_length
from cachalot_publisher_telegram.publisher import announcement, message_url
from cachalot_publisher_telegram.telegram import MultipartBody, UploadFile


def test_the_streamed_multipart_body_is_exactly_its_declared_length_and_parses_back(
    tmp_path: Path,
) -> None:
    data = os.urandom(300_001)
    path = tmp_path / "v.mp4"
    path.write_bytes(data)
    body = MultipartBody(
        {"chat_id": "-100123", "caption": "<b>é</b>"},
        [UploadFile("video", path, len(data), "video/mp4", "video.mp4")],
        read_bytes=65_536,
    )
    seen: list[tuple[int, int]] = []

    async def progress(sent: int, total: int) -> None:
        seen.append((sent, total))

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in body.stream(progress)])

    raw = asyncio.run(collect())
    assert len(raw) == body.length
    assert seen[-1] == (len(data), len(data))
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {body.content_type}\r\n\r\n".encode() + raw
    )
    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
    assert parts["video"].get_payload(decode=True) == data
    assert parts["caption"].get_payload(decode=True).decode() == "<b>é</b>"


def test_an_announcement_fits_one_message_whatever_the_lead() -> None:
    nodes = parse("<p>" + "word " * 5000 + "</p>")
    text = announcement("A <title> & more", nodes, "https://telegra.ph/A-11-30")
    assert telegram_length(text) < 1000
    assert text.startswith("<b>A &lt;title&gt; &amp; more</b>\n\nword word")
    assert text.endswith('<a href="https://telegra.ph/A-11-30">Read the article</a>')


def test_message_links_use_the_username_or_the_private_channel_form() -> None:
    public = {"message_id": 7, "chat": {"id": -1001234, "username": "posts"}}
    private = {"message_id": 8, "chat": {"id": -1005678}}
    assert message_url(public, "-1001234") == "https://t.me/posts/7"
    assert message_url(private, "-1005678") == "https://t.me/c/5678/8"
