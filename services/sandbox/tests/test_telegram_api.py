"""The fake Bot API over HTTP: real paths, real shapes, strict checks, faults on demand."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from cachalot_sandbox import telegram
from cachalot_sandbox.main import create_app
from cachalot_sandbox.settings import SandboxSettings

TOKEN = "4242:AAtestTOKENtestTOKENtestTOKENtestTOK"
CHAT = 1001


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(SandboxSettings(telegram_bot_token=TOKEN))  # type: ignore[arg-type]


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    telegram.reset()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as http:
        yield http
    telegram.reset()


def bot(method: str, token: str = TOKEN) -> str:
    return f"/telegram/bot{token}/{method}"


async def test_get_me_answers_the_bot_user(client):
    response = await client.get(bot("getMe"))
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["result"]["id"] == 4242
    assert body["result"]["is_bot"] is True


async def test_a_wrong_token_is_unauthorized(client):
    response = await client.get(bot("getMe", "4242:AAwrongwrongwrongwrongwrongwrongwron"))
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_an_unknown_method_is_not_found(client):
    response = await client.post(bot("sendTelepathy"), json={})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_method_names_are_case_insensitive(client):
    assert (await client.get(bot("getme"))).status_code == 200


async def test_send_message_by_json_returns_a_message_and_records_it(client):
    response = await client.post(
        bot("sendMessage"),
        json={"chat_id": CHAT, "text": "<b>Hi</b> &amp; bye", "parse_mode": "HTML"},
    )
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["message_id"] == 1
    assert result["chat"] == {"id": CHAT, "first_name": "Operator", "type": "private"}
    assert result["text"] == "Hi & bye"
    assert result["entities"] == [{"type": "bold", "offset": 0, "length": 2}]
    assert isinstance(result["date"], int)

    listed = (await client.get("/sandbox/telegram/messages")).json()
    assert listed["count"] == 1
    message = listed["messages"][0]
    assert message["text"] == "Hi & bye"
    assert message["raw_text"] == "<b>Hi</b> &amp; bye"
    assert message["parse_mode"] == "HTML"
    assert message["chat_id"] == CHAT


async def test_send_message_by_form_and_by_query_string(client):
    by_form = await client.post(bot("sendMessage"), data={"chat_id": str(CHAT), "text": "form"})
    by_query = await client.get(bot("sendMessage"), params={"chat_id": CHAT, "text": "query"})
    assert by_form.json()["result"]["text"] == "form"
    assert by_query.json()["result"]["text"] == "query"


async def test_messages_can_be_listed_for_one_chat_and_cleared(client):
    channel = {"id": -1001000000001, "title": "News", "username": "news_channel"}
    assert (await client.post("/sandbox/telegram/channels", json=channel)).status_code == 201
    await client.post(bot("sendMessage"), json={"chat_id": 1, "text": "one"})
    await client.post(bot("sendMessage"), json={"chat_id": "@news_channel", "text": "two"})
    only_one = (await client.get("/sandbox/telegram/messages", params={"chat_id": "1"})).json()
    assert [m["text"] for m in only_one["messages"]] == ["one"]
    by_name = await client.get("/sandbox/telegram/messages", params={"chat_id": "@news_channel"})
    assert [m["text"] for m in by_name.json()["messages"]] == ["two"]
    assert (await client.delete("/sandbox/telegram/messages")).json() == {"deleted": 2}
    assert (await client.get("/sandbox/telegram/messages")).json()["count"] == 0


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"text": "x"}, "Bad Request: chat_id is empty"),
        ({"chat_id": CHAT}, "Bad Request: message text is empty"),
        ({"chat_id": CHAT, "text": ""}, "Bad Request: message text is empty"),
        ({"chat_id": CHAT, "text": "  \n "}, "Bad Request: message text is empty"),
        ({"chat_id": "not a chat", "text": "x"}, "Bad Request: chat not found"),
        (
            {"chat_id": CHAT, "text": "x", "parse_mode": "BBCode"},
            "Bad Request: unsupported parse_mode",
        ),
        ({"chat_id": CHAT, "text": "x" * 4097}, "Bad Request: message is too long"),
        (
            {"chat_id": CHAT, "text": "1.5", "parse_mode": "MarkdownV2"},
            "Bad Request: can't parse entities: Character '.' is reserved and must be escaped "
            "with the preceding '\\'",
        ),
        (
            {"chat_id": CHAT, "text": "a <b> c", "parse_mode": "HTML"},
            "Bad Request: can't parse entities: "
            'Can\'t find end tag corresponding to start tag "b"',
        ),
    ],
)
async def test_bad_send_message_requests_are_refused_like_telegram(client, params, description):
    response = await client.post(bot("sendMessage"), json=params)
    assert response.status_code == 400
    assert response.json() == {"ok": False, "error_code": 400, "description": description}
    assert (await client.get("/sandbox/telegram/messages")).json()["count"] == 0


async def test_length_is_counted_after_entity_parsing(client):
    text = "<b>" + "&lt;" * 4096 + "</b>"
    response = await client.post(
        bot("sendMessage"), json={"chat_id": CHAT, "text": text, "parse_mode": "HTML"}
    )
    assert response.status_code == 200
    assert response.json()["result"]["text"] == "<" * 4096


async def test_queued_faults_answer_the_next_calls_in_order_then_normal_service(client):
    queued = await client.post(
        "/sandbox/telegram/faults",
        json={
            "responses": [
                {"status": 429, "retry_after": 2, "hold_s": 0},  # this answer only
                {"status": 500},
                {"status": 502},
            ]
        },
    )
    assert queued.status_code == 201
    payload = {"chat_id": CHAT, "text": "hello"}

    first = await client.post(bot("sendMessage"), json=payload)
    assert first.status_code == 429
    assert first.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 2",
        "parameters": {"retry_after": 2},
    }
    second = await client.post(bot("sendMessage"), json=payload)
    assert second.status_code == 500
    assert second.json()["description"] == "Internal Server Error"
    third = await client.post(bot("sendMessage"), json=payload)
    assert third.status_code == 502
    assert third.headers["content-type"].startswith("text/html")
    fourth = await client.post(bot("sendMessage"), json=payload)
    assert fourth.status_code == 200

    messages = (await client.get("/sandbox/telegram/messages")).json()
    assert messages["count"] == 1
    calls = (await client.get("/sandbox/telegram/calls")).json()
    assert calls["calls"]["sendMessage"] == 4


async def test_a_429_holds_its_chat_for_the_wait_and_a_call_that_ignores_it_makes_it_longer(
    client,
):
    """As Telegram: the wait belongs to the chat (any posting method), not to the call that
    met it; another chat goes on; each call during the wait is refused with what is left,
    one Telegram second longer, and counted."""
    fault = {"status": 429, "retry_after": 30, "hold_s": 1.5}  # 30 Telegram s = 1.5 s here
    await client.post("/sandbox/telegram/faults", json={"responses": [fault]})
    payload = {"chat_id": CHAT, "text": "hello"}
    first = await client.post(bot("sendMessage"), json=payload)
    assert first.json()["parameters"] == {"retry_after": 30}

    ignored = await client.post(bot("sendMessage"), json=payload)
    assert ignored.status_code == 429
    assert 30 <= ignored.json()["parameters"]["retry_after"] <= 31  # lengthened by one
    other = await client.post(bot("sendMessage"), json={"chat_id": CHAT + 1, "text": "x"})
    assert other.status_code == 200
    waits = (await client.get("/sandbox/telegram/waits")).json()
    assert waits["ignored"] == {str(CHAT): 1}
    assert 1.4 < waits["waiting"][str(CHAT)] <= 1.55

    await asyncio.sleep(1.6)
    assert (await client.post(bot("sendMessage"), json=payload)).status_code == 200
    assert (await client.get("/sandbox/telegram/waits")).json()["waiting"] == {}


async def test_flood_control_makes_an_ignored_wait_longer_and_counts_the_call(client):
    await client.put("/sandbox/telegram/flood", json={"per_chat_per_second": 1, "burst": 1})
    payload = {"chat_id": CHAT, "text": "x"}
    answers = [await client.post(bot("sendMessage"), json=payload) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 429, 429, 429]
    waits = [a.json()["parameters"]["retry_after"] for a in answers[1:]]
    assert waits[0] < waits[1] < waits[2]
    ignored = (await client.get("/sandbox/telegram/waits")).json()["ignored"]
    assert ignored == {str(CHAT): 2}  # the first 429 was met, the next two ignored it


async def test_pending_faults_can_be_seen_and_cleared(client):
    await client.post("/sandbox/telegram/faults", json={"responses": [{"status": 503}]})
    pending = (await client.get("/sandbox/telegram/faults")).json()["pending"]
    assert [f["status"] for f in pending] == [503]
    assert (await client.delete("/sandbox/telegram/faults")).json() == {"deleted": 1}


async def test_a_fault_queue_with_a_bad_status_is_a_problem_naming_the_field(client):
    response = await client.post("/sandbox/telegram/faults", json={"responses": [{"status": 200}]})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "status" in response.text


async def test_sandbox_reset_forgets_messages_faults_and_counts(client):
    await client.post(bot("sendMessage"), json={"chat_id": CHAT, "text": "x"})
    await client.post("/sandbox/telegram/faults", json={"responses": [{"status": 500}]})
    await client.post("/sandbox/reset")
    assert (await client.get("/sandbox/telegram/messages")).json()["count"] == 0
    assert (await client.get("/sandbox/telegram/faults")).json()["pending"] == []
    assert (await client.get("/sandbox/telegram/calls")).json()["calls"] == {}


async def test_flood_control_is_off_unless_turned_on_then_answers_429_with_retry_after(client):
    payload = {"chat_id": CHAT, "text": "x"}
    for _ in range(5):
        assert (await client.post(bot("sendMessage"), json=payload)).is_success
    turned_on = await client.put(
        "/sandbox/telegram/flood", json={"per_chat_per_second": 0.5, "burst": 2}
    )
    assert turned_on.status_code == 200
    answers = [await client.post(bot("sendMessage"), json=payload) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["parameters"]["retry_after"] == 2
    other_chat = await client.post(bot("sendMessage"), json={"chat_id": CHAT + 1, "text": "x"})
    assert other_chat.status_code == 200
    await client.delete("/sandbox/telegram/flood")
    assert (await client.post(bot("sendMessage"), json=payload)).is_success


async def test_a_group_upgraded_to_a_supergroup_answers_400_with_migrate_to_chat_id(client):
    group, supergroup = "-4242", -1001234567890
    moved = await client.put(
        f"/sandbox/telegram/migrations/{group}", json={"migrate_to_chat_id": supergroup}
    )
    assert moved.status_code == 200
    refused = await client.post(bot("sendMessage"), json={"chat_id": group, "text": "x"})
    assert refused.status_code == 400
    assert refused.json()["parameters"] == {"migrate_to_chat_id": supergroup}
    sent = await client.post(bot("sendMessage"), json={"chat_id": supergroup, "text": "x"})
    assert sent.json()["result"]["chat"]["type"] == "supergroup"


async def test_a_queued_fault_may_carry_migrate_to_chat_id(client):
    fault = {"status": 400, "migrate_to_chat_id": -1007}
    await client.post("/sandbox/telegram/faults", json={"responses": [fault]})
    refused = await client.post(bot("sendMessage"), json={"chat_id": -7, "text": "x"})
    assert refused.json()["parameters"] == {"migrate_to_chat_id": -1007}


async def test_a_user_who_blocked_the_bot_answers_403_until_unblocked(client):
    await client.put(f"/sandbox/telegram/blocked/{CHAT}")
    refused = await client.post(bot("sendMessage"), json={"chat_id": CHAT, "text": "x"})
    assert refused.status_code == 403
    assert refused.json()["description"] == "Forbidden: bot was blocked by the user"
    await client.delete(f"/sandbox/telegram/blocked/{CHAT}")
    sent = await client.post(bot("sendMessage"), json={"chat_id": CHAT, "text": "x"})
    assert sent.status_code == 200


async def test_latency_slows_every_successful_send(client):
    import time

    await client.put("/sandbox/telegram/latency", json={"send_delay_s": 0.3})
    started = time.monotonic()
    sent = await client.post(bot("sendMessage"), json={"chat_id": CHAT, "text": "x"})
    assert sent.status_code == 200
    assert time.monotonic() - started >= 0.3


async def test_a_fault_may_be_queued_for_another_method_and_leaves_send_message_alone(client):
    fault = {"method": "getChat", "status": 429, "retry_after": 330}
    await client.post("/sandbox/telegram/faults", json={"responses": [fault]})
    sent = await client.post(bot("sendMessage"), json={"chat_id": CHAT, "text": "x"})
    assert sent.status_code == 200
    refused = await client.post(bot("getChat"), json={"chat_id": CHAT})
    assert refused.status_code == 429
    assert refused.json()["parameters"] == {"retry_after": 330}
    assert (await client.post(bot("getChat"), json={"chat_id": CHAT})).status_code == 200
