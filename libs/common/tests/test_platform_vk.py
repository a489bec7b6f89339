"""VK's limits in the registry: text length, attachment count, wall photo sizes."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from pydantic import ValidationError

from cachalot_common import articles, platforms
from cachalot_common.platforms.vk import VK_TEXT_MAX, VKFields


@dataclass(frozen=True)
class Image:
    size: int = 1000
    content_type: str = "image/png"
    duration_sec: float | None = None
    width: int | None = 1080
    height: int | None = 1080
    frame_rate: float | None = None
    video_codec: str | None = None


VK = platforms.get("vk")


def test_vk_takes_videos_photos_and_articles() -> None:
    assert VK.publishable
    assert VK.kinds == {"video", "photo", "article"}


def test_a_message_over_the_limit_is_refused_naming_the_limit() -> None:
    with pytest.raises(ValidationError, match=f"at most {VK_TEXT_MAX} characters"):
        VKFields(message="x" * (VK_TEXT_MAX + 1))


def test_owner_zero_is_refused_with_what_to_give_instead() -> None:
    with pytest.raises(ValidationError, match="-<community id>"):
        VKFields(owner_id=0)


def test_an_article_whose_plain_text_is_too_long_is_refused_on_its_body() -> None:
    nodes = tuple(articles.parse("<p>" + "word " * 4000 + "</p>"))
    content = platforms.Content(kind="article", title="T", nodes=nodes)
    (error,) = VK.check(VKFields().to_options(), content)
    assert error.field == "article.body_html"


def test_eleven_images_are_refused_and_each_oversized_one_is_named() -> None:
    images = [Image() for _ in range(10)] + [Image(width=13_000, height=2_000)]
    errors = VK.check(VKFields().to_options(), platforms.Content(kind="photo", images=images))
    assert [e.field for e in errors] == ["images", "images[10].width"]


def test_a_photo_too_thin_for_vk_is_named() -> None:
    content = platforms.Content(kind="photo", images=[Image(width=2100, height=100)])
    (error,) = VK.check(VKFields().to_options(), content)
    assert error.field == "images[0].aspect_ratio"
