"""The fake Bot API's chat methods and channel posts answer as api.telegram.org does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from cachalot_sandbox import telegram
from cachalot_sandbox.main import create_app
from cachalot_sandbox.settings import SandboxSettings

TOKEN = "4242:AAtestTOKENtestTOKENtestTOKENtestTOK"
BOT_ID = 4242
CHANNEL_ID = -1001234567890
ALICE, BOB, CAROL = 700000001, 700000002, 700000003
STRANGER = 999000111


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


def bot(method: str) -> str:
    return f"/telegram/bot{TOKEN}/{method}"


def channel(**overrides: Any) -> dict[str, Any]:
    return {
        "id": CHANNEL_ID,
        "username": "mychannel",
        "title": "My Channel",
        "admins": [
            {"user_id": ALICE, "status": "creator"},
            {"user_id": BOB, "status": "administrator", "can_post_messages": False},
        ],
        "members": [{"user_id": CAROL}],
        "bot_status": "administrator",
        "bot_can_post_messages": True,
        **overrides,
    }


async def set_up(client: httpx.AsyncClient, **overrides: Any) -> None:
    answer = await client.post("/sandbox/telegram/channels", json=channel(**overrides))
    assert answer.status_code == 201, answer.text


async def call(client: httpx.AsyncClient, method: str, **params: Any) -> httpx.Response:
    return await client.post(bot(method), json=params)


def refusal(response: httpx.Response, code: int, description: str) -> None:
    assert response.status_code == code, response.text
    assert response.json() == {"ok": False, "error_code": code, "description": description}


@pytest.mark.parametrize("chat_id", [CHANNEL_ID, str(CHANNEL_ID), "@mychannel", "@MyChannel"])
async def test_get_chat_finds_a_channel_by_id_or_username(client, chat_id):
    await set_up(client)
    answer = await call(client, "getChat", chat_id=chat_id)
    assert answer.status_code == 200
    chat = answer.json()["result"]
    assert {k: chat[k] for k in ("id", "type", "title", "username")} == {
        "id": CHANNEL_ID,
        "type": "channel",
        "title": "My Channel",
        "username": "mychannel",
    }
    assert isinstance(chat["accent_color_id"], int)


async def test_get_chat_by_form_fields_as_clients_send_them(client):
    await set_up(client)
    answer = await client.post(bot("getChat"), data={"chat_id": "@mychannel"})
    assert answer.json()["result"]["id"] == CHANNEL_ID


@pytest.mark.parametrize("chat_id", ["@nosuchchannel", -1009999999999, "not a chat"])
async def test_get_chat_of_an_unknown_channel_is_chat_not_found(client, chat_id):
    await set_up(client)
    refusal(await call(client, "getChat", chat_id=chat_id), 400, "Bad Request: chat not found")


async def test_a_private_channel_the_bot_is_not_in_is_invisible(client):
    await set_up(client, username=None, bot_status="left")
    refusal(await call(client, "getChat", chat_id=CHANNEL_ID), 400, "Bad Request: chat not found")
    refusal(
        await call(client, "getChatMember", chat_id=CHANNEL_ID, user_id=ALICE),
        400,
        "Bad Request: chat not found",
    )


async def test_get_chat_member_answers_creator_administrator_member_and_left(client):
    await set_up(client)
    members = {
        user: (await call(client, "getChatMember", chat_id="@mychannel", user_id=user)).json()
        for user in (ALICE, BOB, CAROL)
    }
    creator = members[ALICE]["result"]
    assert creator["status"] == "creator"
    assert creator["user"] == {
        "id": ALICE,
        "is_bot": False,
        "first_name": "Alice",
        "last_name": "Sandbox",
        "username": "alice_sandbox",
    }
    assert creator["is_anonymous"] is False
    admin = members[BOB]["result"]
    assert admin["status"] == "administrator"
    assert admin["can_post_messages"] is False
    assert admin["can_edit_messages"] is True
    assert admin["can_manage_chat"] is True
    assert members[CAROL]["result"]["status"] == "member"

    await set_up(client, members=[])
    left = await call(client, "getChatMember", chat_id=CHANNEL_ID, user_id=CAROL)
    assert left.json()["result"] == {
        "status": "left",
        "user": {"id": CAROL, "is_bot": False, "first_name": "Карина"},
    }


async def test_the_bot_sees_its_own_rights(client):
    await set_up(client, bot_can_post_messages=False)
    me = (await call(client, "getChatMember", chat_id=CHANNEL_ID, user_id=BOT_ID)).json()
    assert me["result"]["status"] == "administrator"
    assert me["result"]["user"]["is_bot"] is True
    assert me["result"]["can_post_messages"] is False


@pytest.mark.parametrize(
    ("bot_status", "code", "description"),
    [
        ("left", 403, "Forbidden: bot is not a member of the channel chat"),
        ("kicked", 403, "Forbidden: bot was kicked from the channel chat"),
        ("member", 400, "Bad Request: member list is inaccessible"),
    ],
)
async def test_only_an_administrator_bot_may_look_at_a_channels_people(
    client, bot_status, code, description
):
    await set_up(client, bot_status=bot_status)
    refusal(
        await call(client, "getChatMember", chat_id=CHANNEL_ID, user_id=ALICE), code, description
    )
    refusal(await call(client, "getChatAdministrators", chat_id="@mychannel"), code, description)
    itself = await call(client, "getChatMember", chat_id=CHANNEL_ID, user_id=BOT_ID)
    assert itself.json()["result"]["status"] == bot_status


async def test_a_user_telegram_never_saw_is_user_not_found(client):
    await set_up(client)
    refusal(
        await call(client, "getChatMember", chat_id=CHANNEL_ID, user_id=STRANGER),
        400,
        "Bad Request: user not found",
    )


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({"chat_id": CHANNEL_ID}, "Bad Request: user_id is empty"),
        ({"chat_id": CHANNEL_ID, "user_id": "alice"}, "Bad Request: invalid user_id specified"),
        ({"user_id": ALICE}, "Bad Request: chat_id is empty"),
    ],
)
async def test_get_chat_member_without_a_proper_id_is_a_bad_request(client, params, description):
    await set_up(client)
    refusal(await client.post(bot("getChatMember"), json=params), 400, description)


async def test_get_chat_administrators_lists_people_creator_first_and_no_bots(client):
    await set_up(
        client,
        admins=[
            {"user_id": BOB, "status": "administrator"},
            {"user_id": ALICE, "status": "creator", "custom_title": "Boss"},
        ],
    )
    answer = await call(client, "getChatAdministrators", chat_id=CHANNEL_ID)
    admins = answer.json()["result"]
    assert [(a["user"]["id"], a["status"]) for a in admins] == [
        (ALICE, "creator"),
        (BOB, "administrator"),
    ]
    assert admins[0]["custom_title"] == "Boss"


async def test_a_bot_administrator_with_post_rights_posts_as_the_channel(client):
    await set_up(client)
    answer = await call(client, "sendMessage", chat_id="@mychannel", text="hello subscribers")
    assert answer.status_code == 200, answer.text
    message = answer.json()["result"]
    expected_chat = {"id": CHANNEL_ID, "title": "My Channel", "username": "mychannel"}
    assert message["chat"] == {**expected_chat, "type": "channel"}
    assert message["sender_chat"] == message["chat"]
    assert "from" not in message
    listed = await client.get("/sandbox/telegram/messages", params={"chat_id": str(CHANNEL_ID)})
    assert [m["text"] for m in listed.json()["messages"]] == ["hello subscribers"]


@pytest.mark.parametrize(
    ("setup", "code", "description"),
    [
        ({"bot_status": "left"}, 403, "Forbidden: bot is not a member of the channel chat"),
        (
            {"bot_status": "left", "username": None},
            403,
            "Forbidden: bot is not a member of the channel chat",
        ),
        ({"bot_status": "kicked"}, 403, "Forbidden: bot was kicked from the channel chat"),
        (
            {"bot_status": "member"},
            400,
            "Bad Request: need administrator rights in the channel chat",
        ),
        (
            {"bot_can_post_messages": False},
            400,
            "Bad Request: need administrator rights in the channel chat",
        ),
    ],
)
async def test_a_bot_without_post_rights_cannot_post_in_the_channel(
    client, setup, code, description
):
    await set_up(client, **setup)
    refusal(await call(client, "sendMessage", chat_id=CHANNEL_ID, text="hi"), code, description)
    assert (await client.get("/sandbox/telegram/messages")).json()["count"] == 0


async def test_posting_to_an_unknown_username_is_chat_not_found(client):
    answer = await call(client, "sendMessage", chat_id="@nosuchchannel", text="hi")
    refusal(answer, 400, "Bad Request: chat not found")


async def test_the_operator_chat_and_groups_still_work_without_set_up(client):
    private = await call(client, "sendMessage", chat_id=777001, text="to the operator")
    assert private.json()["result"]["chat"] == {
        "id": 777001,
        "first_name": "Operator",
        "type": "private",
    }
    assert private.json()["result"]["from"]["id"] == BOT_ID
    group = await call(client, "sendMessage", chat_id=-1005550001, text="to a group")
    assert group.json()["result"]["chat"]["type"] == "supergroup"


async def test_channels_can_be_listed_replaced_deleted_and_are_forgotten_on_reset(client):
    await set_up(client)
    await set_up(client, title="Renamed")
    other = channel(id=-1000000000042, username="otherchannel")
    assert (await client.post("/sandbox/telegram/channels", json=other)).status_code == 201
    listed = (await client.get("/sandbox/telegram/channels")).json()
    assert listed["count"] == 2
    one = (await client.get(f"/sandbox/telegram/channels/{CHANNEL_ID}")).json()
    assert one["title"] == "Renamed"
    assert (await client.delete("/sandbox/telegram/channels/-1000000000042")).status_code == 204
    missing = await client.get("/sandbox/telegram/channels/-1000000000042")
    assert missing.status_code == 404
    await client.post("/sandbox/reset")
    assert (await client.get("/sandbox/telegram/channels")).json()["count"] == 0
    refusal(await call(client, "getChat", chat_id=CHANNEL_ID), 400, "Bad Request: chat not found")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": 12345}, "id"),
        ({"username": "a b"}, "username"),
        ({"bot_status": "owner"}, "bot_status"),
        ({"admins": [{"user_id": ALICE, "status": "boss"}]}, "status"),
        ({"admins": [{"user_id": BOT_ID, "status": "administrator"}]}, "admins"),
    ],
)
async def test_a_bad_channel_set_up_is_a_problem_naming_the_field(client, overrides, field):
    answer = await client.post("/sandbox/telegram/channels", json=channel(**overrides))
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert field in answer.text


async def test_a_username_belongs_to_one_channel(client):
    await set_up(client)
    clash = await client.post(
        "/sandbox/telegram/channels", json=channel(id=-1000000000042, username="MYCHANNEL")
    )
    assert clash.status_code == 409
    assert clash.json()["errors"][0]["field"] == "username"


async def test_a_set_up_chat_that_moves_keeps_its_people_and_username_under_its_new_title(
    client: httpx.AsyncClient,
) -> None:
    await set_up(client)
    moved_to = -1009876543210
    moved = await client.put(
        f"/sandbox/telegram/migrations/{CHANNEL_ID}",
        json={"migrate_to_chat_id": moved_to, "title": "My Channel, upgraded"},
    )
    assert moved.status_code == 200, moved.text
    refused = await call(client, "sendMessage", chat_id=CHANNEL_ID, text="x")
    assert refused.json()["parameters"] == {"migrate_to_chat_id": moved_to}
    chat = (await call(client, "getChat", chat_id=moved_to)).json()["result"]
    assert (chat["id"], chat["title"], chat["username"]) == (
        moved_to,
        "My Channel, upgraded",
        "mychannel",
    )
    assert (await call(client, "getChat", chat_id="@mychannel")).json()["result"]["id"] == moved_to
    creator = await call(client, "getChatMember", chat_id=moved_to, user_id=ALICE)
    assert creator.json()["result"]["status"] == "creator"
    sent = await call(client, "sendMessage", chat_id=moved_to, text="x")
    assert sent.json()["result"]["chat"]["title"] == "My Channel, upgraded"


async def test_a_title_for_a_chat_that_is_not_set_up_is_refused_naming_it(
    client: httpx.AsyncClient,
) -> None:
    refused = await client.put(
        "/sandbox/telegram/migrations/-4242",
        json={"migrate_to_chat_id": -1009876543210, "title": "New"},
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["title"]
