"""Instagram's block and content checks (platforms/instagram.py)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from cachalot_common import platforms
from cachalot_common.events import InstagramOptions, MediaRef
from cachalot_common.platforms.instagram import InstagramFields, hashtags, mentions

SPEC = platforms.get("instagram")
OPTIONS = InstagramOptions()


def ref(content_type: str, size: int = 1000, duration_sec: float | None = None) -> MediaRef:
    return MediaRef(
        media_id=uuid.uuid4(),
        path="f",
        size=size,
        sha256=hashlib.sha256(b"f").hexdigest(),
        content_type=content_type,  # type: ignore[arg-type]
        duration_sec=duration_sec,
    )


@dataclass(frozen=True)
class Image:
    size: int
    content_type: str
    width: int
    height: int
    duration_sec: float | None = None
    frame_rate: float | None = None
    video_codec: str | None = None


def photo(*images: object) -> platforms.Content:
    return platforms.Content(kind="photo", images=images)  # type: ignore[arg-type]


def test_instagram_takes_videos_and_photos_but_not_articles_and_fetches_its_media() -> None:
    assert SPEC.publishable
    assert SPEC.fetches_media
    assert SPEC.kinds == {"video", "photo"}
    refused = SPEC.check(OPTIONS, platforms.Content(kind="article", title="t"))
    assert [e.field for e in refused] == ["kind"]
    assert not platforms.get("youtube").fetches_media


def test_a_caption_with_31_hashtags_or_21_mentions_or_2201_characters_is_refused() -> None:
    InstagramFields(caption=" ".join(f"#t{i}" for i in range(30)))
    for caption, words in (
        (" ".join(f"#t{i}" for i in range(31)), "30 hashtags"),
        (" ".join(f"@u{i}" for i in range(21)), "20 @mentions"),
        ("x" * 2201, "2200 characters"),
    ):
        with pytest.raises(ValidationError, match=words):
            InstagramFields(caption=caption)


def test_emails_entities_and_glued_words_are_not_hashtags_or_mentions() -> None:
    assert hashtags("me#you &#39; #one #two#three") == 2
    assert mentions("mail a@b.com, @alice and @bob.c_d") == 2


def test_a_reel_is_an_mp4_or_mov_of_3_s_to_15_min_and_at_most_300_mb() -> None:
    def video(**kw: object) -> platforms.Content:
        return platforms.Content(kind="video", video=ref(**kw))  # type: ignore[arg-type]

    assert SPEC.check(OPTIONS, video(content_type="video/mp4", duration_sec=30)) == []
    assert SPEC.check(OPTIONS, video(content_type="video/quicktime", duration_sec=3)) == []
    for kw, fact in (
        ({"content_type": "video/webm", "duration_sec": 30}, "content_type"),
        ({"content_type": "video/mp4", "duration_sec": 2}, "duration_sec"),
        ({"content_type": "video/mp4", "duration_sec": 901}, "duration_sec"),
        ({"content_type": "video/mp4", "duration_sec": 30, "size": 301 * 1024 * 1024}, "size"),
    ):
        errors = SPEC.check(OPTIONS, video(**kw))
        assert [e.field for e in errors] == [f"media.{fact}"], kw


def test_photos_are_one_to_ten_jpegs_of_at_most_8_mb_between_4_5_and_1_91_1() -> None:
    good = Image(1000, "image/jpeg", 1080, 1350)
    assert SPEC.check(OPTIONS, photo(good)) == []
    assert SPEC.check(OPTIONS, photo(*[good] * 10)) == []
    assert [e.field for e in SPEC.check(OPTIONS, photo(*[good] * 11))] == ["images"]
    errors = SPEC.check(
        OPTIONS,
        photo(
            good,
            Image(1000, "image/png", 1080, 1080),
            Image(9 * 1024 * 1024, "image/jpeg", 1080, 1080),
            Image(1000, "image/jpeg", 1080, 1920),
            ref("image/jpeg"),
        ),
    )
    assert [e.field for e in errors] == [
        "images[1].content_type",
        "images[2].size",
        "images[3].aspect_ratio",
    ]
    assert "image/jpeg" in errors[0].message
    assert "8000000 bytes" in errors[1].message
    assert "0.8–1.91" in errors[2].message
