"""The largest JSON text a schema allows, every character escaped (issue 11, A2)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from cachalot_common.json_size import TOTAL_CHARS, round_up_kib, worst_case_json_bytes


class Inner(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str = Field(max_length=20)
    on: bool = False


class Form(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(max_length=100)]
    kind: Literal["video_production", "other"]
    count: int
    note: str | None = Field(default=None, max_length=50)
    items: list[Inner] = Field(default_factory=list, max_length=3)


SCHEMA = Form.model_json_schema()
ASTRAL = "\U0001f600"


def test_a_form_at_every_limit_in_astral_characters_escaped_and_indented_fits() -> None:
    worst = worst_case_json_bytes(SCHEMA, SCHEMA)
    assert worst is not None
    body = {
        "name": ASTRAL * 100,
        "kind": "video_production",
        "count": -(10**20),
        "note": ASTRAL * 50,
        "items": [{"tag": ASTRAL * 20, "on": False}] * 3,
    }
    Form.model_validate(body)
    text = json.dumps(body, ensure_ascii=True, indent=8)
    assert len(text.encode()) <= worst
    # and the bound is not loose by more than the whitespace allowance
    assert worst - len(json.dumps(body, ensure_ascii=True)) < 1024


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(max_size=100),
    note=st.none() | st.text(max_size=50),
    tags=st.lists(st.text(max_size=20), max_size=3),
    indent=st.none() | st.integers(min_value=0, max_value=8),
)
def test_no_valid_body_however_escaped_is_larger_than_the_worst_case(
    name: str, note: str | None, tags: list[str], indent: int | None
) -> None:
    body = {"name": name, "kind": "other", "count": 1, "note": note}
    body["items"] = [{"tag": tag, "on": True} for tag in tags]
    Form.model_validate(body)
    text = json.dumps(body, ensure_ascii=True, indent=indent)
    assert len(text.encode()) <= (worst_case_json_bytes(SCHEMA, SCHEMA) or 0)


def test_a_schema_without_a_bound_has_no_worst_case() -> None:
    class Free(BaseModel):
        text: str

    class Extra(BaseModel):
        text: str = Field(max_length=3)

    class Many(BaseModel):
        model_config = ConfigDict(extra="forbid")
        tags: list[Annotated[str, StringConstraints(max_length=3)]]

    for model in (Free, Extra, Many):
        schema = model.model_json_schema()
        assert worst_case_json_bytes(schema, schema) is None, model


def test_caps_are_rounded_up_to_a_whole_kib() -> None:
    assert round_up_kib(1) == 1024
    assert round_up_kib(1024) == 1024
    assert round_up_kib(53084) == 53248


def test_an_array_with_a_total_character_bound_counts_the_characters_once() -> None:
    """YouTube's tags: at most 250 of them and 500 characters together, not 500 each."""
    schema = {
        "type": "array",
        "maxItems": 250,
        "items": {"type": "string", "maxLength": 500},
        TOTAL_CHARS: 500,
    }
    size = worst_case_json_bytes(schema, schema)
    assert size is not None
    assert size < 500 * 12 + 250 * 20 + 100
    as_sent = json.dumps(["\U0001f600" * 250, "\U0001f600" * 250], ensure_ascii=True, indent=2)
    assert len(as_sent.encode()) <= size
    assert len(json.dumps(["x"] * 250, indent=8).encode()) <= size
