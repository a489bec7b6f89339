"""Telegram's limits in the registry: counted after entity parsing, sizes by Bot API kind."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from pydantic import ValidationError

from cachalot_common import platforms
from cachalot_common.articles import ArticleError, parse
from cachalot_common.events import MediaRef, TelegramOptions
from cachalot_common.platforms.telegram import (
    CLOUD_VIDEO_MAX_BYTES,
    LOCAL_BOT_API_ENV,
    LOCAL_VIDEO_MAX_BYTES,
    TelegramFields,
    video_limit_bytes,
)
from cachalot_common.telegram_entities import EntityParseError, parse_text

SPEC = platforms.get("telegram")
MB = 1024 * 1024


def ref(size: int, content_type: str = "video/mp4") -> MediaRef:
    return MediaRef(
        media_id=uuid.uuid4(),
        path="f",
        size=size,
        sha256=hashlib.sha256(b"f").hexdigest(),
        content_type=content_type,  # type: ignore[arg-type]
    )


def test_telegram_takes_videos_photos_and_articles() -> None:
    assert SPEC.publishable
    assert SPEC.kinds == {"video", "photo", "article"}
    assert SPEC.default_fields() == TelegramFields()


def test_a_caption_is_counted_after_entity_parsing_not_by_its_markup() -> None:
    markup = "<b>" + "a" * 1000 + "</b> <a href='https://example.com'>" + "b" * 23 + "</a>"
    assert len(markup) > 1024
    TelegramFields(caption=markup)  # 1024 characters of text once parsed
    with pytest.raises(ValidationError, match="at most 1024 UTF-16 units after entity parsing"):
        TelegramFields(caption="<i>" + "é" * 1025 + "</i>")


def test_a_caption_of_1024_whales_is_refused_in_utf16_units_as_telegram_counts_them() -> None:
    with pytest.raises(ValidationError) as refused:
        TelegramFields(caption="\N{SPOUTING WHALE}" * 1024)
    message = str(refused.value)
    assert "at most 1024 UTF-16 units after entity parsing" in message
    assert "this one is 2048" in message
    assert "characters" not in message
    TelegramFields(caption="\N{SPOUTING WHALE}" * 512)


@pytest.mark.parametrize(
    ("caption", "says"),
    [
        ("<b>open", 'end tag corresponding to start tag "b"'),
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("x</i>", "Unexpected end tag"),
        ("<b><i>x</b></i>", "Unmatched end tag"),
    ],
)
def test_a_caption_telegram_could_not_parse_is_refused_when_queued(caption: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        TelegramFields(caption=caption)
    TelegramFields(caption='<b>bold <i>both</i></b> <a href="https://x.example">link</a> &amp;')


@pytest.mark.parametrize("caption", ["1 < 2 & 3 > 2", "I <3 whales", "a <b", "x <= y"])
def test_a_bare_less_than_sign_is_refused_when_queued_as_telegrams_parser_refuses_it(
    caption: str,
) -> None:
    with pytest.raises(ValidationError) as refused:
        TelegramFields(caption=caption)
    message = str(refused.value)
    assert "caption" in message
    assert "write &lt; for a literal <" in message
    with pytest.raises(EntityParseError):  # the sandbox's Bot API refuses it too
        parse_text(caption, "html")
    escaped = caption.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert TelegramFields(caption=escaped).caption == escaped
    assert parse_text(escaped, "html").text == caption


def test_a_caption_is_counted_as_telegram_counts_it_not_as_a_browser_decodes_it() -> None:
    # Telegram knows four named entities: "&nbsp;" stays six characters, "&hellip;" eight
    TelegramFields(caption="&nbsp;" * 170)  # 1020
    with pytest.raises(ValidationError, match="this one is 1026"):
        TelegramFields(caption="&nbsp;" * 171)


def test_a_javascript_link_in_a_caption_is_refused_as_in_an_article() -> None:
    with pytest.raises(ValidationError, match="must start with one of http, https, mailto, tg"):
        TelegramFields(caption='<a href="javascript:alert(1)">x</a>')
    with pytest.raises(ArticleError, match="must start with one of http, https, mailto, tg"):
        parse('<p><a href="javascript:alert(1)">x</a></p>')
    TelegramFields(caption='<a href="tg://resolve?domain=x">x</a> <a href="mailto:a@b.c">m</a>')


def test_a_video_over_50_mb_is_refused_on_the_cloud_bot_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(LOCAL_BOT_API_ENV, raising=False)
    options = TelegramOptions()
    assert SPEC.check(options, platforms.Content(kind="video", video=ref(50 * MB))) == []
    errors = SPEC.check(options, platforms.Content(kind="video", video=ref(60 * MB)))
    # a fact of the file at the target (fresh10k: said at media_id, beside no target)
    assert [e.field for e in errors] == ["media.size"]
    assert "at most 50 MB through the Bot API" in errors[0].message


def test_a_local_bot_api_server_takes_videos_up_to_2000_mb(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(LOCAL_BOT_API_ENV, "true")
    assert video_limit_bytes() == LOCAL_VIDEO_MAX_BYTES
    options = TelegramOptions()
    assert SPEC.check(options, platforms.Content(kind="video", video=ref(60 * MB))) == []
    errors = SPEC.check(options, platforms.Content(kind="video", video=ref(2001 * MB)))
    assert "a local Bot API server" in errors[0].message
    assert video_limit_bytes(local=False) == CLOUD_VIDEO_MAX_BYTES


def test_a_photo_post_has_one_to_ten_images_of_at_most_10_mb() -> None:
    options = TelegramOptions()
    one = platforms.Content(kind="photo", images=(ref(1000, "image/jpeg"),))
    assert SPEC.check(options, one) == []
    eleven = platforms.Content(kind="photo", images=tuple(ref(10, "image/png") for _ in range(11)))
    assert [e.field for e in SPEC.check(options, eleven)] == ["images"]
    big = platforms.Content(
        kind="photo", images=(ref(10, "image/png"), ref(11_000_000, "image/jpeg"))
    )
    assert [e.field for e in SPEC.check(options, big)] == ["images[1].size"]


def test_an_article_too_long_for_one_message_is_refused_only_when_one_message_was_asked() -> None:
    long_body = parse("<p>" + "word " * 1000 + "</p>")
    article = platforms.Content(kind="article", title="Long", nodes=long_body)
    assert SPEC.check(TelegramOptions(article_as="auto"), article) == []
    assert SPEC.check(TelegramOptions(article_as="telegraph"), article) == []
    errors = SPEC.check(TelegramOptions(article_as="message"), article)
    assert [e.field for e in errors] == ["article_as"]
    assert "Telegraph" in errors[0].message


def test_a_caption_on_an_article_is_refused_naming_the_caption_not_dropped_silently() -> None:
    article = platforms.Content(kind="article", title="T", nodes=parse("<p>body</p>"))
    errors = SPEC.check(TelegramOptions(caption="read this"), article)
    assert [e.field for e in errors] == ["caption"]
    assert "only for video and photo posts on Telegram" in errors[0].message
    assert SPEC.check(TelegramOptions(), article) == []


def test_an_article_past_telegraphs_64_kb_of_content_is_refused() -> None:
    huge = platforms.Content(
        kind="article", title="Huge", nodes=parse("<p>" + "x" * 70_000 + "</p>")
    )
    errors = SPEC.check(TelegramOptions(), huge)
    assert [e.field for e in errors] == ["article"]
    assert "64 KB" in errors[0].message


def test_a_covered_long_message_article_without_link_preview_is_refused_not_coverless() -> None:
    """fresh10c LOW: over a caption's 1024 units, an article sent as one message shows its
    cover only as the link preview; with the preview turned off the cover was dropped
    silently. The queue refuses it naming ``disable_link_preview``, with the numbers."""
    cover = ref(1000, "image/jpeg")
    body = parse("<p>" + "word " * 300 + "</p>")  # ~1,500 units: over a caption, a message
    article = platforms.Content(kind="article", title="Long", nodes=body, cover=cover)
    hidden = TelegramOptions(article_as="message", disable_link_preview=True)
    [error] = SPEC.check(hidden, article)
    assert error.field == "disable_link_preview"
    assert error.type == "cover_needs_preview"
    assert error.params["limit"] == 1024
    assert int(error.params["count"] or 0) > 1024
    assert SPEC.check(TelegramOptions(article_as="message"), article) == []
    assert SPEC.check(TelegramOptions(disable_link_preview=True), article) == []  # a page
    short = platforms.Content(kind="article", title="S", nodes=parse("<p>hi</p>"), cover=cover)
    assert SPEC.check(hidden, short) == []  # a photo with the article as its caption
    assert SPEC.check(hidden, platforms.Content(kind="article", title="Long", nodes=body)) == []
