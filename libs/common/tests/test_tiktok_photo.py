"""TikTok photo posts in the registry: counts, formats, sizes and text limits."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from cachalot_common import platforms
from cachalot_common.events import MediaRef
from cachalot_common.platforms.tiktok import TikTokFields

TIKTOK = platforms.get("tiktok")


def image(content_type: str = "image/jpeg", size: int = 300_000, **facts: Any) -> MediaRef:
    return MediaRef.model_validate(
        {
            "media_id": uuid.uuid4(),
            "path": "i.jpg",
            "size": size,
            "sha256": hashlib.sha256(b"i").hexdigest(),
            "content_type": content_type,
            "width": 1080,
            "height": 1920,
            **facts,
        }
    )


def photos(count: int, **facts: Any) -> platforms.Content:
    return platforms.Content(kind="photo", images=tuple(image(**facts) for _ in range(count)))


def test_tiktok_takes_photo_posts_of_one_to_35_jpeg_images() -> None:
    assert "photo" in TIKTOK.kinds
    options = TikTokFields(
        privacy_level="SELF_ONLY", photo_title="Trip", caption="Days by the sea"
    ).to_options()
    assert TIKTOK.check(options, photos(1)) == []
    assert TIKTOK.check(options, photos(35)) == []


def test_36_images_are_refused_naming_the_images_field() -> None:
    (error,) = TIKTOK.check(TikTokFields(privacy_level="SELF_ONLY").to_options(), photos(36))
    assert error.field == "images"
    assert error.message == "TikTok takes at most 35 images in a post; this one has 36"


def test_a_png_image_is_refused_naming_the_image_and_its_content_type() -> None:
    content = platforms.Content(kind="photo", images=(image(), image("image/png")))
    (error,) = TIKTOK.check(TikTokFields(privacy_level="SELF_ONLY").to_options(), content)
    assert error.field == "images[1].content_type"
    assert "image/jpeg, image/webp" in error.message


def test_an_image_over_20_mb_is_refused_naming_its_size() -> None:
    (error,) = TIKTOK.check(
        TikTokFields(privacy_level="SELF_ONLY").to_options(), photos(1, size=20_000_001)
    )
    assert error.field == "images[0].size"


def test_a_photo_title_over_90_utf16_units_is_refused_on_the_photo_title_field() -> None:
    TikTokFields(privacy_level="SELF_ONLY", photo_title="😀" * 45)
    with pytest.raises(ValidationError) as raised:
        TikTokFields(privacy_level="SELF_ONLY", photo_title="😀" * 45 + "a")
    (error,) = raised.value.errors()
    assert error["loc"] == ("photo_title",)
    assert "90 UTF-16 units" in error["msg"]


def test_a_photo_description_may_be_4000_units_but_a_video_caption_only_2200() -> None:
    long = TikTokFields(privacy_level="SELF_ONLY", caption="a" * 4000).to_options()
    assert TIKTOK.check(long, photos(2)) == []
    video = platforms.Content(
        kind="video", video=image("video/mp4", duration_sec=5.0, width=None, height=None)
    )
    (error,) = TIKTOK.check(long, video)
    assert error.field == "caption"
    assert "2200 UTF-16 units" in error.message


def test_the_cover_index_must_name_one_of_the_images() -> None:
    assert (
        TIKTOK.check(
            TikTokFields(privacy_level="SELF_ONLY", photo_cover_index=2).to_options(), photos(3)
        )
        == []
    )
    (error,) = TIKTOK.check(
        TikTokFields(privacy_level="SELF_ONLY", photo_cover_index=3).to_options(), photos(3)
    )
    assert error.field == "photo_cover_index"
    assert error.message.endswith("but the post's images are 0 to 2")
    (one,) = TIKTOK.check(
        TikTokFields(privacy_level="SELF_ONLY", photo_cover_index=1).to_options(), photos(1)
    )
    assert "1 images" not in one.message
    assert one.message.endswith("but the post's images are image 0 only")


def test_duet_and_stitch_flags_on_a_photo_post_are_refused_not_dropped() -> None:
    """A photo post has no duets or stitches: the flags (``x-kinds`` video) would be dropped,
    so they are refused by name (their defaults pass)."""
    options = TikTokFields(
        privacy_level="SELF_ONLY", disable_duet=True, disable_stitch=True
    ).to_options()
    errors = TIKTOK.check(options, photos(2))
    assert [e.field for e in errors] == ["disable_duet", "disable_stitch"]
    assert TIKTOK.check(TikTokFields(privacy_level="SELF_ONLY").to_options(), photos(2)) == []


def test_a_media_ref_may_carry_the_signed_url_the_platform_pulls_from() -> None:
    assert image().url is None
    assert (
        image(url="https://cachalot.example/m/1?sig=x").url == "https://cachalot.example/m/1?sig=x"
    )


@pytest.mark.parametrize(
    ("width", "height"), [(1080, 1920), (1920, 1080), (1080, 1080), (640, 480), (1080, 1350)]
)
def test_photos_up_to_1080p_either_way_up_are_taken(width: int, height: int) -> None:
    options = TikTokFields(privacy_level="SELF_ONLY").to_options()
    assert TIKTOK.check(options, photos(1, width=width, height=height)) == []


@pytest.mark.parametrize(
    ("width", "height", "field"),
    [
        (1080, 1921, "images[1].height"),  # the longer side over 1920
        (2000, 1000, "images[1].width"),
        (1200, 1600, "images[1].width"),  # the shorter side over 1080
        (1600, 1200, "images[1].height"),
        (1200, 1200, "images[1].width"),
        (4032, 3024, "images[1].width"),  # a phone camera's photo
    ],
)
def test_a_photo_larger_than_1080p_is_refused_naming_the_side_that_is_over(
    width: int, height: int, field: str
) -> None:
    content = platforms.Content(kind="photo", images=(image(), image(width=width, height=height)))
    (error,) = TIKTOK.check(TikTokFields(privacy_level="SELF_ONLY").to_options(), content)
    assert error.field == field
    assert error.message == (
        f"TikTok takes at most 1080×1920 px (either way up); this image is {width}×{height}"
    )
