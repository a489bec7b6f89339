"""Bot API answers are classified by error_code and parameters, as Telegram documents them."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from cachalot_common.events import MAX_RETRY_AFTER_S
from cachalot_common.telegram_api import (
    BotApiError,
    ChatWaits,
    ResponseParameters,
    bot_api_result,
)


def answer(status: int, body: object = None, **headers: str) -> httpx.Response:
    if body is None:
        return httpx.Response(status, text="<html>bad gateway</html>", headers=headers)
    return httpx.Response(status, json=body, headers=headers)


def error_of(response: httpx.Response) -> BotApiError:
    with pytest.raises(BotApiError) as raised:
        bot_api_result("sendMessage", response)
    return raised.value


def test_an_ok_answer_gives_its_result():
    assert bot_api_result("getMe", answer(200, {"ok": True, "result": {"id": 1}})) == {"id": 1}


def test_a_429_carries_retry_after_in_full_and_is_retryable():
    body = {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 330",
        "parameters": {"retry_after": 330},
    }
    error = error_of(answer(429, body))
    assert (error.kind, error.retry_after, error.retryable) == ("rate_limited", 330, True)
    assert str(error) == "sendMessage: 429 Too Many Requests: retry after 330"


def test_a_migrated_group_is_told_by_parameters_not_by_words():
    body = {
        "ok": False,
        "error_code": 400,
        "description": "anything at all",
        "parameters": {"migrate_to_chat_id": -1001234567890},
    }
    error = error_of(answer(400, body))
    assert error.kind == "chat_migrated"
    assert error.migrate_to_chat_id == -1001234567890
    assert not error.retryable


@pytest.mark.parametrize(
    ("code", "description", "kind"),
    [
        (400, "Bad Request: chat not found", "bad_request"),
        (400, "Bad Request: can't parse entities", "bad_request"),
        (401, "Unauthorized", "unauthorized"),
        (403, "Forbidden: bot was blocked by the user", "forbidden"),
        (403, "a chat-free wording Telegram may choose tomorrow", "forbidden"),
        (404, "Not Found", "not_found"),
        (409, "Conflict: terminated by other getUpdates request", "conflict"),
        (500, "Internal Server Error", "server_error"),
        (502, "Bad Gateway", "server_error"),
        (418, "I'm a teapot", "unexpected"),
    ],
)
def test_each_error_code_has_its_kind_whatever_the_description_says(code, description, kind):
    error = error_of(answer(code, {"ok": False, "error_code": code, "description": description}))
    assert error.kind == kind
    assert error.description == description


def test_a_proxy_page_is_classified_by_its_status_and_its_retry_after_header():
    error = error_of(answer(429, None, **{"Retry-After": "17"}))
    assert (error.kind, error.retry_after, error.bot_api_answer) == ("rate_limited", 17, False)
    assert error_of(answer(503)).kind == "server_error"
    assert error_of(answer(503)).retryable


def test_parameters_of_the_wrong_type_count_as_absent():
    assert ResponseParameters.parse({"retry_after": "x", "migrate_to_chat_id": True}) == (
        ResponseParameters()
    )
    assert ResponseParameters.parse({"retry_after": -3}).retry_after is None
    assert ResponseParameters.parse([1, 2]) == ResponseParameters()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_429_holds_its_chat_for_every_caller_until_the_wait_is_over_and_no_other_chat():
    clock = FakeClock()
    waits = ChatWaits(clock=clock)
    met = error_of(
        answer(429, {"ok": False, "error_code": 429, "parameters": {"retry_after": 330}})
    )
    with pytest.raises(BotApiError):
        async with waits.guard("sendMessage", 42):
            raise met
    clock.now += 328.5
    with pytest.raises(BotApiError) as held:
        await waits.check("sendPhoto", "42")  # any method; the chat by its id, int or str
    assert held.value.held
    assert held.value.kind == "rate_limited"
    assert held.value.retry_after == 2  # whole seconds left, rounded up
    await waits.check("sendMessage", 43)  # another chat goes on
    clock.now += 1.5
    await waits.check("sendMessage", 42)  # the wait is over


async def test_a_scaled_wait_is_held_scaled_and_told_in_telegram_seconds():
    clock = FakeClock()
    waits = ChatWaits(clock=clock, scale=0.02)
    await waits.learn(
        7,
        BotApiError(
            "sendMessage",
            http_status=429,
            error_code=429,
            description="x",
            parameters=ResponseParameters(retry_after=330),
        ),
    )
    clock.now += 3.3  # half of 330 × 0.02
    with pytest.raises(BotApiError) as held:
        await waits.check("sendMessage", 7)
    assert held.value.retry_after == 165
    clock.now += 3.31
    await waits.check("sendMessage", 7)


def test_a_long_description_is_cut_between_whole_characters():
    flags = "\U0001f1fa\U0001f1e6" * 300  # 600 code points; a cut at 500 may halve a flag
    body = {"ok": False, "error_code": 400, "description": "x" + flags}
    error = error_of(answer(400, body))
    assert len(error.description) <= 500
    assert error.description.endswith("\U0001f1fa\U0001f1e6…")


def test_a_retry_after_header_as_an_http_date_gives_the_seconds_until_it():
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    error = error_of(answer(429, None, **{"Retry-After": when}))
    assert error.retry_after is not None
    assert 110 <= error.retry_after <= 121


def test_a_json_429_without_parameters_waits_its_retry_after_header():
    body = {"ok": False, "error_code": 429, "description": "Too Many Requests"}
    error = error_of(answer(429, body, **{"Retry-After": "120"}))
    assert (error.kind, error.retry_after) == ("rate_limited", 120)


def test_parameters_retry_after_wins_over_the_header():
    body = {"ok": False, "error_code": 429, "description": "x", "parameters": {"retry_after": 7}}
    assert error_of(answer(429, body, **{"Retry-After": "120"})).retry_after == 7


@pytest.mark.parametrize("asked", [10**12, 10**400, str(10**12)])
def test_a_flood_wait_past_a_week_is_read_as_a_week(asked):
    # fresh17: 10**12 held a chat for millennia in the shared waits; 10**400 overflowed
    body = {
        "ok": False,
        "error_code": 429,
        "description": "x",
        "parameters": {"retry_after": asked},
    }
    assert error_of(answer(429, body)).retry_after == int(MAX_RETRY_AFTER_S)


@pytest.mark.parametrize("body", [None, {"ok": False, "error_code": 503, "description": "busy"}])
def test_a_503_with_retry_after_says_how_long_to_wait(body):
    error = error_of(answer(503, body, **{"Retry-After": "120"}))
    assert (error.kind, error.retry_after, error.retryable) == ("server_error", 120, True)
