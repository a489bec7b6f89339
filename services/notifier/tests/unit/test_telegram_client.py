"""The Bot API client against the sandbox: one call, Telegram's answer classified by its
code and parameters, timeouts over real sockets, no token leaks."""

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
from cachalot_notifier.telegram import BotApiError, BotApiUnreachable, TelegramBot
from cachalot_testing.ports import free_port

BOT_TOKEN = "918273645:AAnotifierTESTtokenNEVERinLOGS_12345"  # the sandbox's (conftest)
OPERATOR_CHAT = "424242"


def make_bot(
    http: httpx.AsyncClient, token: str = BOT_TOKEN, base: str = "http://sandbox"
) -> TelegramBot:
    return TelegramBot(http, api_base=f"{base}/telegram", token=SecretStr(token))


def assert_no_token(error: BaseException) -> None:
    rendered = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    assert BOT_TOKEN not in rendered
    assert BOT_TOKEN.split(":")[1] not in rendered


async def refusal(sandbox, bot: TelegramBot | None = None) -> BotApiError:
    with pytest.raises(BotApiError) as raised:
        await (bot or make_bot(sandbox.http)).send_message(OPERATOR_CHAT, "hello")
    assert_no_token(raised.value)
    return raised.value


async def test_send_message_delivers_and_returns_the_message_id(sandbox):
    sent = await make_bot(sandbox.http).send_message(OPERATOR_CHAT, "<b>hi</b>", parse_mode="HTML")
    assert sent.message_id == 1
    assert [m["text"] for m in await sandbox.messages()] == ["hi"]


async def test_a_429_is_answered_at_once_with_the_whole_retry_after(sandbox):
    await sandbox.queue_faults({"status": 429, "retry_after": 330})
    started = time.monotonic()
    error = await refusal(sandbox)
    assert time.monotonic() - started < 5  # the client never sleeps; the sender schedules
    assert (error.kind, error.retry_after) == ("rate_limited", 330)
    assert await sandbox.send_calls() == 1


async def test_5xx_and_a_proxy_error_page_are_retryable_server_errors(sandbox):
    await sandbox.queue_faults({"status": 500}, {"status": 502})
    for _ in range(2):
        error = await refusal(sandbox)
        assert (error.kind, error.retryable) == ("server_error", True)
    assert not error.bot_api_answer  # the 502 is nginx's page


async def test_a_user_who_blocked_the_bot_is_a_403_forbidden(sandbox):
    await sandbox.block(OPERATOR_CHAT)
    error = await refusal(sandbox)
    assert (error.error_code, error.kind, error.retryable) == (403, "forbidden", False)


async def test_a_group_upgraded_to_a_supergroup_names_the_new_chat(sandbox):
    await sandbox.migrate("-4242", -1001234567890)
    with pytest.raises(BotApiError) as raised:
        await make_bot(sandbox.http).send_message("-4242", "hello")
    assert raised.value.kind == "chat_migrated"
    assert raised.value.migrate_to_chat_id == -1001234567890


async def test_text_telegram_cannot_parse_is_a_bad_request(sandbox):
    with pytest.raises(BotApiError) as raised:
        await make_bot(sandbox.http).send_message(OPERATOR_CHAT, "1.5", parse_mode="MarkdownV2")
    assert raised.value.kind == "bad_request"
    assert "can't parse entities" in str(raised.value)


async def test_chat_exists_tells_a_chat_the_bot_cannot_see_by_the_code(sandbox):
    bot = make_bot(sandbox.http)
    assert await bot.chat_exists(OPERATOR_CHAT)
    assert not await bot.chat_exists("@no_such_channel")


async def test_a_wrong_token_is_unauthorized_and_its_text_hides_the_token(sandbox):
    wrong = "918273645:AAwrongTOKENwrongTOKENwrongTOKEN_123"
    error = await refusal(sandbox, make_bot(sandbox.http, token=wrong))
    assert (error.error_code, error.kind) == (401, "unauthorized")
    assert wrong not in "".join(traceback.format_exception(error))


async def test_network_errors_are_unreachable_and_reported_without_the_url():
    async with httpx.AsyncClient() as client:
        bot = make_bot(client, base=f"http://127.0.0.1:{free_port()}")
        with pytest.raises(BotApiUnreachable, match="network error") as error:
            await bot.send_message(OPERATOR_CHAT, "hello")
    assert_no_token(error.value)
    assert error.value.__cause__ is None
    assert error.value.__suppress_context__


async def test_a_slow_answer_times_out_over_a_real_socket(sandbox_http, sandbox_process):
    """The slow answer would be a 401 (final): only a timeout makes this unreachable."""
    await sandbox_http.queue_faults({"status": 401, "delay_s": 2.0})
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=0.3) as client:
        bot = make_bot(client, base=sandbox_process.base_url)
        with pytest.raises(BotApiUnreachable, match="timed out") as error:
            await bot.send_message(OPERATOR_CHAT, "hello")
    assert time.monotonic() - started < 1.5
    assert_no_token(error.value)


async def test_client_spans_never_carry_the_token(sandbox_app, sandbox):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    await sandbox.queue_faults({"status": 500})
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport) as client:
        instrument_httpx_client(client, provider)
        bot = make_bot(client)
        with pytest.raises(BotApiError):
            await bot.send_message(OPERATOR_CHAT, "hello")
        await bot.send_message(OPERATOR_CHAT, "hello")
    spans = exporter.get_finished_spans()
    assert len(spans) == 2
    for span in spans:
        rendered = span.to_json()
        assert BOT_TOKEN not in rendered
        assert BOT_TOKEN.split(":")[1] not in rendered
