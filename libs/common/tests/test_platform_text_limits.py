"""Every platform text field declares its platform's limit in the schema, and enforces it.

Issue 11: the posts route capped bodies at 64 KiB while the platforms' text fields had no
schema bound, so the cap could not be sized from the largest valid post. Each text field
now has a ``maxLength`` (code points, which never exceed the platform's own count: UTF-16
units, UTF-8 bytes or characters), and its validator, counting as the platform counts,
refuses anything longer with a message naming the platform's limit.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cachalot_common import platforms
from cachalot_common.json_size import TOTAL_CHARS, worst_case_json_bytes
from cachalot_common.platforms.youtube import YOUTUBE_TAGS_MAX_CHARS, YouTubeFields

REQUIRED: dict[str, dict[str, Any]] = {
    "youtube": {"title": "ok"},
    "tiktok": {"privacy_level": "SELF_ONLY"},
}


def text_fields() -> list[tuple[platforms.PlatformSpec, str, int]]:
    found = []
    for spec in platforms.publishable():
        schema = spec.fields.model_json_schema()
        for name, field in schema["properties"].items():
            if field.get("type") == "string" and "enum" not in field:
                found.append((spec, name, int(field["maxLength"])))
    return found


def test_every_platform_block_has_a_worst_case_size() -> None:
    for spec in platforms.publishable():
        schema = spec.fields.model_json_schema()
        assert worst_case_json_bytes(schema, schema) is not None, spec.name


@pytest.mark.parametrize(
    ("spec", "field", "limit"), text_fields(), ids=lambda v: getattr(v, "name", str(v))
)
def test_a_text_one_character_over_its_schema_limit_is_refused_naming_the_field(
    spec: platforms.PlatformSpec, field: str, limit: int
) -> None:
    base = REQUIRED.get(spec.name, {})
    text = "1" * (limit + 1) if field == "category_id" else "a" * (limit + 1)
    with pytest.raises(ValidationError) as refused:
        spec.fields.model_validate({**base, field: text})
    assert [e["loc"] for e in refused.value.errors()] == [(field,)]


def test_the_text_fields_carry_their_platforms_documented_limits() -> None:
    limits = {(spec.name, field): limit for spec, field, limit in text_fields()}
    assert limits == {
        ("tiktok", "caption"): 4000,  # UTF-16 units, a photo post's description
        ("tiktok", "photo_title"): 90,
        ("youtube", "title"): 100,
        ("youtube", "description"): 5000,  # bytes: never fewer than characters
        ("youtube", "category_id"): 4,
        ("instagram", "caption"): 2200,
        ("vk", "message"): 16_384,
        ("telegram", "caption"): 16_384,  # HTML as sent; 1024 UTF-16 units once parsed
    }
    tags = YouTubeFields.model_json_schema()["properties"]["tags"]
    assert tags[TOTAL_CHARS] == YOUTUBE_TAGS_MAX_CHARS
    assert tags["maxItems"] == 250


def test_youtube_tags_padded_with_spaces_count_as_sent() -> None:
    """Spaces around a tag are dropped before YouTube's count, so without counting them as
    sent a valid block could be any length (the schema's total would not hold)."""
    with pytest.raises(ValidationError):
        YouTubeFields(title="ok", tags=["a" + " " * 600])
    assert YouTubeFields(title="ok", tags=[" a "]).tags == ["a"]
