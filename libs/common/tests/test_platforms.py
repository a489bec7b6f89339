"""The platform registry: every platform described once, and what follows from it."""

from __future__ import annotations

import hashlib
import uuid
from typing import get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from cachalot_common import platforms
from cachalot_common.events import MediaRef, PlatformOptions
from cachalot_common.platforms.telegram import TelegramFields
from cachalot_common.platforms.tiktok import TikTokFields
from cachalot_common.platforms.youtube import YouTubeFields
from cachalot_common.service_auth import PUBLISHER_SERVICES, publisher_of
from cachalot_common.topics import PLATFORMS, Platform, publish_topic


def video(duration_sec: float | None) -> platforms.Content:
    return platforms.Content(
        kind="video",
        video=MediaRef(
            media_id=uuid.uuid4(),
            path="v.mp4",
            size=1000,
            sha256=hashlib.sha256(b"v").hexdigest(),
            content_type="video/mp4",
            duration_sec=duration_sec,
        ),
    )


def test_every_platform_of_the_wire_contract_has_exactly_one_spec_in_the_same_order() -> None:
    assert platforms.names() == get_args(Platform) == PLATFORMS
    assert all(platforms.get(name).name == name for name in PLATFORMS)


def test_publish_topics_and_publisher_services_are_derived_from_the_name() -> None:
    for name in PLATFORMS:
        spec = platforms.get(name)
        assert spec.publish_topic == publish_topic(name) == f"posts.publish.{name}.v1"
        assert spec.publisher_service == f"publisher-{name}"
    assert {n: f"publisher-{n}" for n in PLATFORMS} == PUBLISHER_SERVICES
    assert publisher_of("tiktok") == "publisher-tiktok"
    assert publisher_of("myspace") is None


def test_today_tiktok_youtube_and_telegram_take_posts() -> None:
    assert [s.name for s in platforms.publishable()] == ["tiktok", "youtube", "telegram"]
    for name in ("instagram", "vk"):
        spec = platforms.get(name)
        assert not spec.publishable
        assert spec.default_fields() is None
        assert spec.check(TikTokFields().to_options(), video(9999)) == []


def test_every_publishable_block_turns_into_options_a_publish_command_accepts() -> None:
    samples = {
        "tiktok": TikTokFields(),
        "youtube": YouTubeFields(title="t"),
        "telegram": TelegramFields(),
    }
    adapter: TypeAdapter[object] = TypeAdapter(PlatformOptions)
    for spec in platforms.publishable():
        assert spec.fields is not None
        assert isinstance(samples[spec.name], spec.fields)
        options = samples[spec.name].to_options()
        assert options.model_dump()["platform"] == spec.name
        assert adapter.validate_python(options.model_dump()) == options


def test_a_block_is_required_only_where_a_field_has_no_default() -> None:
    assert platforms.get("youtube").required_fields == ("title",)
    assert platforms.get("youtube").default_fields() is None
    assert platforms.get("tiktok").required_fields == ()
    assert platforms.get("tiktok").default_fields() == TikTokFields()


def test_labels_are_for_people_and_an_unknown_name_is_shown_as_it_is() -> None:
    assert [platforms.label_of(n) for n in PLATFORMS] == [
        "TikTok",
        "YouTube",
        "Instagram",
        "VK",
        "Telegram",
    ]
    assert platforms.label_of("myspace") == "myspace"
    assert platforms.find("myspace") is None
    with pytest.raises(KeyError):
        platforms.get("myspace")


def test_only_telegram_signs_in_with_its_widget() -> None:
    widget = [n for n in PLATFORMS if platforms.get(n).sign_in == "widget"]
    assert widget == ["telegram"]


def test_tiktok_takes_at_most_600_seconds_of_video_through_its_api() -> None:
    tiktok = platforms.get("tiktok")
    options = TikTokFields().to_options()
    assert tiktok.limits.max_duration_s == 600
    assert tiktok.check(options, video(600.0)) == []
    assert tiktok.check(options, video(None)) == []  # unknown length: TikTok decides
    assert tiktok.check(options, video(754.2)) == [
        platforms.FieldError(
            "media", "TikTok accepts at most 600 s through its API; this video is 754 s"
        )
    ]


def test_youtube_has_no_length_limit_of_ours() -> None:
    youtube = platforms.get("youtube")
    assert youtube.check(YouTubeFields(title="t").to_options(), video(12 * 3600)) == []


def test_a_tiktok_cover_frame_must_lie_inside_the_video() -> None:
    tiktok = platforms.get("tiktok")
    inside = TikTokFields(video_cover_timestamp_ms=4000).to_options()
    past = TikTokFields(video_cover_timestamp_ms=4001).to_options()
    assert tiktok.check(inside, video(4.0)) == []
    assert tiktok.check(past, video(None)) == []
    (error,) = tiktok.check(past, video(4.0))
    assert error.field == "video_cover_timestamp_ms"
    assert "past the end of the video (4000 ms)" in error.message


def test_the_blocks_keep_the_platforms_field_limits() -> None:
    with pytest.raises(ValidationError, match="2200 UTF-16"):
        TikTokFields(caption="😀" * 1101)
    with pytest.raises(ValidationError, match="at most 100 characters"):
        YouTubeFields(title="x" * 101)
    with pytest.raises(ValidationError):
        TikTokFields.model_validate({"colour": "red"})


def test_a_platform_refuses_a_kind_of_post_it_cannot_take_naming_the_kind() -> None:
    youtube = platforms.get("youtube")
    photo = platforms.Content(kind="photo", images=(video(None).video,))  # type: ignore[arg-type]
    (error,) = youtube.check(YouTubeFields(title="t").to_options(), photo)
    assert error.field == "kind"
    assert error.message == "YouTube cannot take photo posts; it takes video posts"
