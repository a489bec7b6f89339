"""The platform registry: every platform described once, and what follows from it."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from typing import Any, get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from cachalot_common import platforms
from cachalot_common.events import MediaRef, PlatformOptions
from cachalot_common.platforms.instagram import InstagramFields
from cachalot_common.platforms.spec import kinds_of
from cachalot_common.platforms.telegram import TelegramFields
from cachalot_common.platforms.tiktok import TikTokFields
from cachalot_common.platforms.youtube import YouTubeFields
from cachalot_common.service_auth import PUBLISHER_SERVICES, publisher_of
from cachalot_common.topics import PLATFORMS, Platform, publish_topic
from cachalot_testing.blocks import KindMarkedOption, block_with, kind_marked_options


def video(duration_sec: float | None, **facts: Any) -> platforms.Content:
    return platforms.Content(kind="video", video=video_ref(duration_sec, **facts))


def video_ref(duration_sec: float | None, **facts: Any) -> MediaRef:
    return MediaRef.model_validate(
        {
            "media_id": uuid.uuid4(),
            "path": "v.mp4",
            "size": 1000,
            "sha256": hashlib.sha256(b"v").hexdigest(),
            "content_type": "video/mp4",
            "duration_sec": duration_sec,
            **facts,
        }
    )


FITS_ALL = {"width": 1080, "height": 1920, "frame_rate": 30.0, "video_codec": "h264"}


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


def test_a_platform_without_a_fields_model_takes_no_posts() -> None:
    assert {"tiktok", "youtube", "instagram", "vk", "telegram"} <= {
        s.name for s in platforms.publishable()
    }
    for spec in platforms.REGISTRY.values():
        if spec.fields is not None:
            continue
        assert not spec.publishable
        assert spec.default_fields() is None


def test_every_publishable_block_turns_into_options_a_publish_command_accepts() -> None:
    samples = {
        "youtube": YouTubeFields(title="t"),  # a block with required fields
        "instagram": InstagramFields(caption="c"),
        "telegram": TelegramFields(),
        "tiktok": TikTokFields(privacy_level="MUTUAL_FOLLOW_FRIENDS"),
    }
    adapter: TypeAdapter[object] = TypeAdapter(PlatformOptions)
    for spec in platforms.publishable():
        assert spec.fields is not None
        block = samples.get(spec.name) or spec.default_fields()
        assert isinstance(block, spec.fields)
        options = block.to_options()
        assert options.model_dump()["platform"] == spec.name
        assert adapter.validate_python(options.model_dump()) == options


def test_a_block_is_required_only_where_a_field_has_no_default() -> None:
    assert platforms.get("youtube").required_fields == ("title",)
    assert platforms.get("youtube").default_fields() is None
    # TikTok's privacy level is the person's choice, never preselected (platforms.md §1.2)
    assert platforms.get("tiktok").required_fields == ("privacy_level",)
    assert platforms.get("tiktok").default_fields() is None


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
    options = TikTokFields(privacy_level="SELF_ONLY").to_options()
    assert tiktok.limits.max_duration_s == 600
    assert tiktok.check(options, video(600.0)) == []
    assert tiktok.check(options, video(None)) == []  # unknown length: TikTok decides
    assert tiktok.check(options, video(754.2)) == [
        platforms.FieldError(
            "media.duration_sec",
            "TikTok accepts at most 600 s through its API; this video is 754 s",
            "duration_too_long",
            {"limit": 600, "count": 754.2},
        )
    ]


def test_a_1080_by_1920_30_fps_h264_video_of_ten_seconds_fits_every_platform() -> None:
    for spec in platforms.REGISTRY.values():
        assert spec.limits.check(spec.label, video_ref(10.0, **FITS_ALL)) == [], spec.name


def test_tiktok_refuses_a_10_fps_320_by_240_video_naming_each_fact() -> None:
    errors = platforms.get("tiktok").check(
        TikTokFields(privacy_level="SELF_ONLY").to_options(),
        video(5.0, width=320, height=240, frame_rate=10.0, video_codec="mpeg4"),
    )
    assert [(e.field, e.message) for e in errors] == [
        ("media.frame_rate", "TikTok takes 23–60 frames per second; this video has 10"),
        ("media.video_codec", "TikTok takes h264, hevc, vp8, vp9; this video is mpeg4"),
        ("media.width", "TikTok takes 360–4096 px on each side; this video is 320×240"),
        ("media.height", "TikTok takes 360–4096 px on each side; this video is 320×240"),
    ]


def test_a_file_stored_before_probing_is_checked_only_on_what_is_known() -> None:
    assert platforms.get("tiktok").limits.check("TikTok", video_ref(5.0)) == []


def test_instagram_reels_last_3_s_to_15_min_within_0_01_to_10_aspect() -> None:
    limits = platforms.get("instagram").limits
    assert limits.check("Instagram", video_ref(3.0, **FITS_ALL)) == []
    (short,) = limits.check("Instagram", video_ref(2.0, **FITS_ALL))
    assert (short.field, short.message) == (
        "media.duration_sec",
        "Instagram needs at least 3 s; this video is 2 s",
    )
    (nearly,) = limits.check("Instagram", video_ref(2.94, **FITS_ALL))
    assert nearly.message == "Instagram needs at least 3 s; this video is 2.9 s"
    wide = {**FITS_ALL, "width": 1920, "height": 180}
    (aspect,) = limits.check("Instagram", video_ref(10.0, **wide))
    assert aspect.field == "media.aspect_ratio"


def test_telegram_takes_videos_up_to_50_mb_and_photos_up_to_10_mb() -> None:
    telegram = platforms.get("telegram")
    options = telegram.fields().to_options()  # type: ignore[misc]
    big = video_ref(10.0, **FITS_ALL).model_copy(update={"size": 50 * 1024**2 + 1})
    assert [e.field for e in telegram.check(options, platforms.Content("video", big))] == [
        "media.size"
    ]
    photo = big.model_copy(
        update={"content_type": "image/png", "size": 10 * 1000**2 + 1, "frame_rate": None}
    )
    assert [e.field for e in telegram.limits.check("Telegram", photo)] == ["media.size"]
    webm = video_ref(10.0, **FITS_ALL).model_copy(update={"content_type": "video/webm"})
    assert [e.field for e in telegram.limits.check("Telegram", webm)] == ["media.content_type"]


def test_youtube_has_no_length_limit_of_ours() -> None:
    youtube = platforms.get("youtube")
    assert youtube.check(YouTubeFields(title="t").to_options(), video(12 * 3600)) == []


def test_a_tiktok_cover_frame_must_lie_inside_the_video() -> None:
    tiktok = platforms.get("tiktok")
    inside = TikTokFields(privacy_level="SELF_ONLY", video_cover_timestamp_ms=4000).to_options()
    past = TikTokFields(privacy_level="SELF_ONLY", video_cover_timestamp_ms=4001).to_options()
    assert tiktok.check(inside, video(4.0)) == []
    assert tiktok.check(past, video(None)) == []
    (error,) = tiktok.check(past, video(4.0))
    assert error.field == "video_cover_timestamp_ms"
    assert "past the end of the video (4000 ms)" in error.message


def test_the_blocks_keep_the_platforms_field_limits() -> None:
    with pytest.raises(ValidationError, match="4000 UTF-16"):
        TikTokFields(privacy_level="SELF_ONLY", caption="😀" * 2001)
    with pytest.raises(ValidationError, match="at most 100 characters"):
        YouTubeFields(title="x" * 101)
    with pytest.raises(ValidationError):
        TikTokFields.model_validate({"colour": "red"})


def test_tiktok_has_no_default_privacy_and_branded_content_is_never_private() -> None:
    with pytest.raises(ValidationError) as missing:
        TikTokFields.model_validate({"caption": "hello"})
    assert [e["loc"] for e in missing.value.errors()] == [("privacy_level",)]
    with pytest.raises(ValidationError, match="cannot be posted as “Only me”") as branded:
        TikTokFields(privacy_level="SELF_ONLY", brand_content_toggle=True)
    assert [e["loc"] for e in branded.value.errors()] == [("brand_content_toggle",)]
    TikTokFields(privacy_level="PUBLIC_TO_EVERYONE", brand_content_toggle=True)
    TikTokFields(privacy_level="SELF_ONLY", brand_organic_toggle=True)  # your own brand: fine


def test_a_platform_refuses_a_kind_of_post_it_cannot_take_naming_the_kind() -> None:
    youtube = platforms.get("youtube")
    photo = platforms.Content(kind="photo", images=(video(None).video,))  # type: ignore[arg-type]
    (error,) = youtube.check(YouTubeFields(title="t").to_options(), photo)
    assert error.field == "kind"
    assert error.message == "YouTube cannot take photo posts; it takes video posts"


def test_a_photo_post_with_more_images_than_the_platform_takes_is_refused_naming_images() -> None:
    taking = dataclasses.replace(
        platforms.get("tiktok"), kinds=frozenset({"video", "photo"}), max_images=2
    )
    image = video(None).video
    options = TikTokFields(privacy_level="SELF_ONLY").to_options()

    two = taking.check(options, platforms.Content(kind="photo", images=(image, image)))  # type: ignore[arg-type]
    (error,) = taking.check(options, platforms.Content(kind="photo", images=(image,) * 3))  # type: ignore[arg-type]

    assert two == []
    assert error.field == "images"
    assert error.message == "TikTok takes at most 2 images in a post; this one has 3"
    assert platforms.get("youtube").max_images == 10  # DESIGN.md "Post kinds": 1–10


def test_only_telegram_cannot_look_up_what_became_of_a_post_whose_answer_was_lost() -> None:
    """Issue 10: Telegram's Bot API has no lookup of sent messages and no idempotency key;
    YouTube and TikTok look the upload up, Instagram reads its container, VK's ``guid``."""
    assert {n for n in platforms.names() if not platforms.get(n).looks_up_posts} == {"telegram"}


@pytest.mark.parametrize("marked", kind_marked_options(), ids=str)
def test_an_option_set_on_a_kind_of_post_that_would_not_use_it_is_refused_naming_both(
    marked: KindMarkedOption,
) -> None:
    spec = platforms.get(marked.platform)
    assert spec.fields is not None
    options = spec.fields.model_validate(block_with(marked.platform, marked.option)).to_options()
    content = platforms.Content(kind=marked.kind)  # type: ignore[arg-type]

    (error,) = [e for e in spec.check(options, content) if e.field == marked.option]

    assert f"this is a{'n' if marked.kind == 'article' else ''} {marked.kind} post" in error.message
    assert f"{marked.option} is only for " in error.message
    plain = spec.fields.model_validate(
        {k: v for k, v in block_with(marked.platform, marked.option).items() if k != marked.option}
    ).to_options()
    assert spec.check_kinds(plain, marked.kind) == []  # its default is no value to drop
    used = kinds_of(spec.fields.model_fields[marked.option]) or frozenset()
    assert all(spec.check_kinds(options, kind) == [] for kind in used)


def test_no_refusal_of_the_registry_is_a_bare_value_error() -> None:
    """Every refusal the registry can emit carries a code of ``REFUSALS`` (a page words it by
    that code): its validators raise ``refusal(…)``, never a bare ``ValueError`` (whose type
    is pydantic's ``value_error``), and a ``FieldError`` with another code cannot be built."""
    import pathlib

    import pytest

    from cachalot_common.refusals import REFUSALS, refusal

    sources = pathlib.Path(platforms.__file__).parent.glob("*.py")
    assert [p.name for p in sources if "raise ValueError" in p.read_text("utf-8")] == []
    with pytest.raises(KeyError):
        platforms.FieldError("caption", "too long", "value_error")
    with pytest.raises(KeyError):
        refusal("text_too_long", "too long", limit=1, colour="red")  # type: ignore[arg-type]
    assert "text_too_long" in REFUSALS


def test_a_caption_over_its_limit_is_refused_with_its_code_and_numbers() -> None:
    """The error entry carries the code and the numbers a page words it with (issue 10)."""
    from pydantic import ValidationError

    from cachalot_common.platforms.instagram import InstagramFields
    from cachalot_common.platforms.telegram import TelegramFields
    from cachalot_common.problems import field_errors

    for fields, body, expected in (
        (TelegramFields, {"caption": "я" * 1025}, {"limit": 1024, "unit": "utf16", "count": 1025}),
        (InstagramFields, {"caption": "#a " * 31}, {"limit": 30, "count": 31}),
    ):
        try:
            fields(**body)
        except ValidationError as error:
            [entry] = field_errors(list(error.errors()))
        else:
            raise AssertionError(body)
        assert {k: entry[k] for k in expected} == expected
        assert entry["type"] in ("text_too_long", "too_many_hashtags")
        assert "at most" in entry["message"]  # the server's English as it was


def test_a_telegram_caption_is_known_by_the_text_its_reader_sees() -> None:
    """fresh10b: a caption typed as ``UI <b>photo</b>`` is stored as Telegram HTML
    (``UI &lt;b&gt;photo&lt;/b&gt;``) and was listed so; the reader sees ``UI <b>photo</b>``."""
    telegram = platforms.get("telegram")
    assert telegram.text_of({"caption": "UI &lt;b&gt;photo&lt;/b&gt;"}) == "UI <b>photo</b>"
    assert telegram.text_of({"caption": "UI <b>photo</b> &amp; more"}) == "UI photo & more"
    assert platforms.get("vk").text_of({"message": "a &lt;b&gt;"}) == "a &lt;b&gt;"  # VK: as typed
