"""Telegram's limits in the registry: counted after entity parsing, sizes by Bot API kind."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from pydantic import ValidationError

from cachalot_common import platforms
from cachalot_common.articles import parse
from cachalot_common.events import MediaRef, TelegramOptions
from cachalot_common.platforms.telegram import (
    CLOUD_VIDEO_MAX_BYTES,
    LOCAL_BOT_API_ENV,
    LOCAL_VIDEO_MAX_BYTES,
    TelegramFields,
    video_limit_bytes,
)

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
    [("<b>open", "<b> is never closed"), ("<div>x</div>", "no <div>"), ("x</i>", "closes no")],
)
def test_a_caption_telegram_could_not_parse_is_refused_when_queued(caption: str, says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        TelegramFields(caption=caption)
    TelegramFields(caption='<b>bold <i>both</i></b> <a href="https://x.example">link</a> &amp;')


def test_a_video_over_50_mb_is_refused_on_the_cloud_bot_api(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(LOCAL_BOT_API_ENV, raising=False)
    options = TelegramOptions()
    assert SPEC.check(options, platforms.Content(kind="video", video=ref(50 * MB))) == []
    errors = SPEC.check(options, platforms.Content(kind="video", video=ref(60 * MB)))
    assert [e.field for e in errors] == ["media"]
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


def test_an_article_past_telegraphs_64_kb_of_content_is_refused() -> None:
    huge = platforms.Content(
        kind="article", title="Huge", nodes=parse("<p>" + "x" * 70_000 + "</p>")
    )
    errors = SPEC.check(TelegramOptions(), huge)
    assert [e.field for e in errors] == ["article"]
    assert "64 KB" in errors[0].message
