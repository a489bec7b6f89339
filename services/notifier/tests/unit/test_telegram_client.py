"""The Bot API client against the sandbox: retries, 429 waits, refusals, no token leaks."""

from __future__ import annotations

import time
import traceback

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import SecretStr

from cachalot_common.telemetry import instrument_httpx_client
from cachalot_notifier.telegram import (
    RetryPolicy,
    TelegramBot,
    TelegramRejected,
    TelegramUnavailable,
)
from cachalot_testing.ports import free_port

BOT_TOKEN = "918273645:AAnotifierTESTtokenNEVERinLOGS_12345"  # the sandbox's (conftest)
OPERATOR_CHAT = "424242"

FAST = RetryPolicy(max_attempts=4, backoff_initial_s=0.01, backoff_max_s=0.05)


def make_bot(http: httpx.AsyncClient, token: str = BOT_TOKEN, **policy: float) -> TelegramBot:
    retry = RetryPolicy(**{**FAST.__dict__, **policy})  # type: ignore[arg-type]
    return TelegramBot(
        http, api_base="http://sandbox/telegram", token=SecretStr(token), retry=retry
    )


def assert_no_token(error: BaseException) -> None:
    rendered = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    assert BOT_TOKEN not in rendered
    assert BOT_TOKEN.split(":")[1] not in rendered


async def test_send_message_delivers_and_returns_the_message_id(sandbox):
    sent = await make_bot(sandbox.http).send_message(OPERATOR_CHAT, "<b>hi</b>", parse_mode="HTML")
    assert sent.message_id == 1
    assert [m["text"] for m in await sandbox.messages()] == ["hi"]


async def test_429_waits_retry_after_then_delivers_once(sandbox):
    await sandbox.queue_faults({"status": 429, "retry_after": 1})
    started = time.monotonic()
    await make_bot(sandbox.http).send_message(OPERATOR_CHAT, "hello")
    assert time.monotonic() - started >= 1.0
    assert len(await sandbox.messages()) == 1
    assert await sandbox.send_calls() == 2


async def test_5xx_and_a_proxy_error_page_are_retried_then_delivered_once(sandbox):
    await sandbox.queue_faults({"status": 500}, {"status": 502})
    await make_bot(sandbox.http).send_message(OPERATOR_CHAT, "hello")
    assert len(await sandbox.messages()) == 1
    assert await sandbox.send_calls() == 3


async def test_retries_stop_after_the_configured_attempts(sandbox):
    await sandbox.queue_faults(*[{"status": 503}] * 4)
    with pytest.raises(TelegramUnavailable, match="HTTP 503"):
        await make_bot(sandbox.http).send_message(OPERATOR_CHAT, "hello")
    assert await sandbox.send_calls() == 4
    assert await sandbox.messages() == []


async def test_text_telegram_cannot_parse_is_refused_at_once_and_not_retried(sandbox):
    with pytest.raises(TelegramRejected) as error:
        await make_bot(sandbox.http).send_message(OPERATOR_CHAT, "1.5", parse_mode="MarkdownV2")
    assert error.value.about_this_message
    assert "can't parse entities" in str(error.value)
    assert await sandbox.send_calls() == 1


async def test_a_wrong_token_is_a_configuration_error_whose_text_hides_the_token(sandbox):
    wrong = "918273645:AAwrongTOKENwrongTOKENwrongTOKEN_123"
    with pytest.raises(TelegramRejected) as error:
        await make_bot(sandbox.http, token=wrong).send_message(OPERATOR_CHAT, "hello")
    assert error.value.error_code == 401
    assert not error.value.about_this_message
    assert wrong not in "".join(traceback.format_exception(error.value))


async def test_network_errors_are_retried_and_reported_without_the_url():
    async with httpx.AsyncClient() as client:
        bot = TelegramBot(
            client,
            api_base=f"http://127.0.0.1:{free_port()}",
            token=SecretStr(BOT_TOKEN),
            retry=FAST,
        )
        with pytest.raises(TelegramUnavailable, match="network error") as error:
            await bot.send_message(OPERATOR_CHAT, "hello")
    assert_no_token(error.value)
    assert error.value.__cause__ is None
    assert error.value.__suppress_context__


async def test_a_slow_answer_times_out_and_is_retried(sandbox_app, sandbox):
    await sandbox.queue_faults({"status": 500, "delay_s": 1.0})
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport, timeout=0.2) as client:
        bot = TelegramBot(
            client, api_base="http://sandbox/telegram", token=SecretStr(BOT_TOKEN), retry=FAST
        )
        await bot.send_message(OPERATOR_CHAT, "hello")
    assert len(await sandbox.messages()) == 1


async def test_client_spans_never_carry_the_token(sandbox_app, sandbox):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    await sandbox.queue_faults({"status": 500})
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport) as client:
        instrument_httpx_client(client, provider)
        bot = TelegramBot(
            client, api_base="http://sandbox/telegram", token=SecretStr(BOT_TOKEN), retry=FAST
        )
        await bot.send_message(OPERATOR_CHAT, "hello")
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    for span in spans:
        rendered = span.to_json()
        assert BOT_TOKEN not in rendered
        assert BOT_TOKEN.split(":")[1] not in rendered
