"""Pure pieces of publisher-telegram: the streamed multipart body, announcements, links."""

from __future__ import annotations

import asyncio
import os
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path

from cachalot_common.articles import parse, telegram_length
from cachalot_common.telegram_entities import parse_text, utf16_len
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


def test_an_announcements_link_is_worded_in_the_clients_language_english_when_unknown() -> None:
    nodes = parse("<p>Lead.</p>")
    url = "https://telegra.ph/T-12-01"
    worded = {lang: announcement("T", nodes, url, lang) for lang in ("ru", "en", None, "xx")}
    assert worded["ru"].endswith(f'<a href="{url}">Читать статью</a>')
    assert worded["en"] == worded[None] == worded["xx"]
    assert worded["en"].endswith(f'<a href="{url}">Read the article</a>')


def test_an_announcement_keeps_the_leads_links_and_formatting_as_telegram_parses_them() -> None:
    nodes = parse(
        '<p>See <a href="https://example.com/guide?a=1&amp;b=2">the guide</a> and '
        "<b>act</b> 👨‍👩‍👧.</p><p>More.</p>"
    )
    text = announcement("Title", nodes, "https://telegra.ph/T-12-01")
    parsed = parse_text(text, "html")
    assert parsed.text == "Title\n\nSee the guide and act 👨‍👩‍👧.\n\nRead the article"
    links = [(e["offset"], e["length"], e["url"]) for e in parsed.entities if e.get("url")]
    assert links == [
        (11, 9, "https://example.com/guide?a=1&b=2"),
        (utf16_len(parsed.text) - 16, 16, "https://telegra.ph/T-12-01"),
    ]


def test_a_long_lead_is_cut_between_graphemes_and_its_links_survive() -> None:
    nodes = parse('<p><a href="https://example.com/">Start</a> ' + "🇺🇦" * 2000 + "</p>")
    text = announcement("Title", nodes, "https://telegra.ph/T-12-01")
    parsed = parse_text(text, "html")
    teaser = parsed.text.split("\n\n")[1]
    assert teaser.endswith("…")
    assert utf16_len(teaser) <= 700
    flags = teaser.removeprefix("Start ").removesuffix("…")
    assert flags == "🇺🇦" * (len(flags) // 2)  # whole flags only
    assert parsed.entities[1] == {
        "type": "text_link",
        "offset": 7,
        "length": 5,
        "url": "https://example.com/",
    }


def test_message_links_use_the_username_or_the_private_channel_form() -> None:
    public = {"message_id": 7, "chat": {"id": -1001234, "username": "posts"}}
    private = {"message_id": 8, "chat": {"id": -1005678}}
    assert message_url(public, "-1001234") == "https://t.me/posts/7"
    assert message_url(private, "-1005678") == "https://t.me/c/5678/8"
