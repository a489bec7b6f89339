"""Untrusted text: lone surrogates are refused naming the field, secrets compare as bytes."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from cachalot_common.app import create_service_app
from cachalot_common.events import MAX_RETRY_AFTER_S
from cachalot_common.problems import problem_response
from cachalot_common.settings import ServiceSettings
from cachalot_common.untrusted import (
    StrictJsonRoute,
    decimal_seconds,
    lone_surrogate_path,
    retry_after_seconds,
    same_secret,
)


class _Tagged(BaseModel):
    title: str
    tags: list[str] = []
    extra: dict[str, str] = {}


def _app() -> FastAPI:
    app = create_service_app(title="t", settings=ServiceSettings())
    router = APIRouter(route_class=StrictJsonRoute)

    @router.post("/things")
    async def create(body: _Tagged) -> dict[str, str]:
        return {"title": body.title}

    app.include_router(router)
    return app


async def _post(raw: bytes) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(
            "/things", content=raw, headers={"Content-Type": "application/json"}
        )


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (rb'{"title": "\udfff"}', "title"),
        (rb'{"title": "a\ud800b"}', "title"),
        (rb'{"title": "ok", "tags": ["fine", "\uDC00"]}', "tags.1"),
        (rb'{"title": "ok", "extra": {"k": "\ud83d"}}', "extra.k"),
        (rb'{"title": "ok", "extra": {"\ude00": "v"}}', "extra"),
    ],
)
async def test_a_lone_surrogate_anywhere_in_a_json_body_is_a_422_naming_the_field(
    raw: bytes, field: str
) -> None:
    response = await _post(raw)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [(e["field"], e["type"]) for e in errors] == [(field, "string_unicode")]


async def test_a_paired_surrogate_escape_is_an_ordinary_character() -> None:
    response = await _post(rb'{"title": "\ud83d\ude00 \u00e9"}')
    assert response.status_code == 200, response.text
    assert response.json() == {"title": "😀 é"}


def test_the_path_to_a_lone_surrogate_gives_keys_and_positions() -> None:
    assert lone_surrogate_path({"a": [{"b": "x"}, {"b": "\udfff"}]}) == ("a", 1, "b")
    assert lone_surrogate_path({"a": ["😀", 1, None, True]}) is None


def test_a_problem_quoting_a_lone_surrogate_still_renders() -> None:
    response = problem_response(422, "Invalid input: \udfff.")
    assert response.status_code == 422
    assert b"Invalid input: ?." in response.body


@pytest.mark.parametrize("given", ["é", "\udfff", "", "x" * 1000, "état", None])
def test_secrets_of_any_characters_compare_without_raising(given: str | None) -> None:
    assert same_secret(given, "state-abc") is False


def test_equal_secrets_match_as_text_or_bytes() -> None:
    assert same_secret("état", "état")
    assert same_secret(b"abc", "abc")


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        *[("5", 5.0), ("1.5", 1.5), (" 30 ", 30.0), ("²", None), ("١", None), ("-1", None)],
        *[("nan", None), ("inf", None), ("", None), (None, None), ("1e3", None), ("5.", None)],
    ],
)
def test_retry_after_seconds_are_read_only_from_ascii_digits(
    raw: str | None, seconds: float | None
) -> None:
    assert decimal_seconds(raw) == seconds


NOW = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        *[("120", 120.0), (" 5 ", 5.0), ("²", None), ("", None), (None, None), ("soon", None)],
        ("Sun, 06 Nov 1994 08:51:37 GMT", 120.0),  # IMF-fixdate
        ("Sunday, 06-Nov-94 08:51:37 GMT", 120.0),  # obsolete RFC 850 form
        ("Sun Nov  6 08:51:37 1994", 120.0),  # obsolete asctime form (GMT)
        ("Sun, 06 Nov 1994 08:00:00 GMT", 0.0),  # already past: no wait
        ("Sun, 06 Nov 1994 08:51:37 -0000", None),  # zone unknown
        ("Mon, 32 Nov 1994 08:51:37 GMT", None),
        # at most a week, however far a header asks (10¹² s overflowed the queue's clock)
        ("1000000000000", MAX_RETRY_AFTER_S),
        ("9" * 400, MAX_RETRY_AFTER_S),  # float() reads this as infinity
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_S),
    ],
)
def test_retry_after_is_read_as_delay_seconds_or_an_http_date(
    raw: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(raw, now=NOW) == seconds
