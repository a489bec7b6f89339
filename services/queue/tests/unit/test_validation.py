"""Platform limits are checked before anything is queued."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from cachalot_common import platforms
from cachalot_common.platforms.tiktok import TikTokFields, utf16_units
from cachalot_common.platforms.youtube import YouTubeFields, youtube_tags_length
from cachalot_common.problems import Problem
from cachalot_queue.api import field_path
from cachalot_queue.posts import _named_for_edit
from cachalot_queue.schemas import PostCreate, PostUpdate, TargetCreate


def test_tiktok_counts_caption_length_in_utf16_units() -> None:
    assert utf16_units("abc") == 3
    assert utf16_units("😀") == 2
    TikTokFields(privacy_level="SELF_ONLY", caption="😀" * 2000)
    with pytest.raises(ValidationError, match="4000"):  # a photo post's description
        TikTokFields(privacy_level="SELF_ONLY", caption="😀" * 2000 + "a")


@pytest.mark.parametrize("title", ["", "   ", "x" * 101, "a < b", "a > b"])
def test_youtube_titles_outside_the_rules_are_refused(title: str) -> None:
    with pytest.raises(ValidationError):
        YouTubeFields(title=title)


def test_a_youtube_title_of_100_characters_is_fine() -> None:
    assert YouTubeFields(title="é" * 100).title == "é" * 100


def test_youtube_descriptions_are_limited_in_bytes_not_characters() -> None:
    YouTubeFields(title="t", description="a" * 5000)
    with pytest.raises(ValidationError, match="5000 bytes"):
        YouTubeFields(title="t", description="é" * 2501)


def test_youtube_tags_count_quotes_and_commas() -> None:
    assert youtube_tags_length(["a b", "c"]) == 5 + 1 + 1
    YouTubeFields(title="t", tags=["x" * 49] * 10)
    with pytest.raises(ValidationError, match="500"):
        YouTubeFields(title="t", tags=["x" * 50] * 10)


def test_field_paths_read_the_way_the_client_wrote_them() -> None:
    assert field_path(["targets", 1, "youtube", "title"]) == "targets[1].youtube.title"
    assert field_path(["media_id"]) == "media_id"


def test_a_target_takes_one_optional_block_per_publishable_platform_of_the_registry() -> None:
    fields = TargetCreate.model_fields
    assert list(fields) == ["account_id", *(s.name for s in platforms.publishable())]
    for spec in platforms.publishable():
        assert fields[spec.name].annotation == (spec.fields | None)
        assert fields[spec.name].default is None
    target = TargetCreate.model_validate(
        {"account_id": str(uuid.uuid4()), "tiktok": {"privacy_level": "SELF_ONLY"}}
    )
    assert target.block("tiktok") == TikTokFields(privacy_level="SELF_ONLY")
    assert target.block("youtube") is None
    with pytest.raises(ValidationError):  # a block for no platform at all
        TargetCreate.model_validate({"account_id": str(uuid.uuid4()), "myspace": {}})


def test_an_edits_error_on_a_target_it_did_not_name_is_said_at_the_content_it_changed() -> None:
    """PATCH with new content checks it against every target; one the body does not name
    has no ``targets[i]`` in the body, so its problem is said where the client changed
    something, led by the target's platform and account."""
    named, other = uuid.uuid4(), uuid.uuid4()
    body = PostUpdate.model_validate(
        {"image_ids": [str(uuid.uuid4())], "targets": [{"account_id": str(named)}]}
    )
    edit = PostCreate.model_validate(
        {
            "kind": "photo",
            "image_ids": [str(uuid.uuid4())],
            "targets": [{"account_id": str(named)}, {"account_id": str(other)}],
        }
    )
    errors = [
        {"field": "targets[0].tiktok.caption", "message": "too long", "type": "value_error"},
        {"field": "targets[1].image_ids[0].aspect", "message": "too wide", "type": "value_error"},
        {"field": "image_ids", "message": "at most 10", "type": "value_error"},
    ]
    problem = Problem(422, "Invalid input.", errors=errors)

    said = _named_for_edit(problem, body, edit, ["image_ids"], {other: "Instagram (Ann)"})

    assert said.errors == [
        errors[0],
        {"field": "image_ids", "message": "Instagram (Ann): too wide", "type": "value_error"},
        errors[2],
    ]


def test_youtube_tags_are_refused_by_the_count_the_composer_shows() -> None:
    """fresh try (web12g): 60 tags "tag number 0…59" read "949 of 500 characters" on the
    counter but the refusal said "these are 770 as sent" (the raw total, checked first)."""
    tags = [f"tag number {i}" for i in range(60)]
    with pytest.raises(ValidationError) as caught:
        YouTubeFields(title="t", tags=tags)
    (error,) = caught.value.errors()
    assert error["type"] == "text_too_long"
    assert error["ctx"]["count"] == youtube_tags_length(tags) == 949
    assert "949" in error["msg"]
    assert "770" not in error["msg"]
    assert "as sent" not in error["msg"]
