"""Platform limits are checked before anything is queued."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from cachalot_common import platforms
from cachalot_common.platforms.tiktok import TikTokFields, utf16_units
from cachalot_common.platforms.youtube import YouTubeFields, youtube_tags_length
from cachalot_queue.api import field_path
from cachalot_queue.schemas import TargetCreate


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
