"""Field errors read as the reason a person can act on, without the validator's class."""

from __future__ import annotations

from pydantic import BaseModel, ValidationError, field_validator

from cachalot_common.problems import field_errors


class _Block(BaseModel):
    title: str

    @field_validator("title")
    @classmethod
    def _fits(cls, value: str) -> str:
        if len(value) > 3:
            raise ValueError("YouTube titles are at most 3 characters; this one is 4")
        return value


def test_a_value_error_reads_as_its_reason_without_value_error_in_front() -> None:
    try:
        _Block(title="four")
    except ValidationError as error:
        [found] = field_errors(list(error.errors()))
    assert found["field"] == "title"
    assert found["message"] == "YouTube titles are at most 3 characters; this one is 4"
