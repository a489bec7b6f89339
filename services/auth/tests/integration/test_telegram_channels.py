"""Linking a Telegram channel, checked with the sandbox's Bot API over real HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from cachalot_auth.models import Account, Token

CHANNEL_ID = -1001234567890
ALICE = 700000001  # the Login Widget person browser_sign_in signs in as
BOB = 700000002


async def set_up_channel(sandbox: Any, **overrides: Any) -> None:
    channel = {
        "id": CHANNEL_ID,
        "username": "mychannel",
        "title": "My Channel",
        "admins": [{"user_id": ALICE, "status": "creator"}],
        "bot_status": "administrator",
        "bot_can_post_messages": True,
        **overrides,
    }
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{sandbox.base_url}/sandbox/telegram/channels", json=channel)
        answer.raise_for_status()


async def stored_account(auth: Any) -> Account:
    async with auth.app.state.factory() as db:
        return (await db.scalars(select(Account))).one()


@pytest.mark.parametrize("chat_id", [str(CHANNEL_ID), "@mychannel"])
@pytest.mark.parametrize(
    "admins",
    [
        [{"user_id": ALICE, "status": "creator"}],
        [{"user_id": BOB, "status": "creator"}, {"user_id": ALICE, "status": "administrator"}],
    ],
    ids=["creator", "administrator"],
)
async def test_a_telegram_person_links_a_channel_where_our_bot_may_post(
    auth, sign_in, fresh_sandbox, chat_id, admins
):
    await set_up_channel(fresh_sandbox, admins=admins)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        [before] = (await browser.get("/api/v1/accounts")).json()
        await auth.app.state.relay.drain()
        events_before = auth.events.types(before["id"])
        linked = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": chat_id}
        )
        listed = (await browser.get("/api/v1/accounts")).json()

    assert linked.status_code == 200, linked.text
    account = linked.json()
    assert account["id"] == before["id"]
    assert account["channel_id"] == str(CHANNEL_ID)  # the numeric id, even for an @username
    assert account["display_name"] == "My Channel"
    assert account["status"] == "ok"
    assert [(a["platform"], a["channel_id"]) for a in listed] == [("telegram", str(CHANNEL_ID))]

    stored = await stored_account(auth)
    assert stored.channel_id == str(CHANNEL_ID)
    async with auth.app.state.factory() as db:
        assert await db.scalar(select(func.count()).select_from(Token)) == 0
        raw = (await db.execute(text("SELECT * FROM accounts"))).mappings().one()
    assert "AAsandbox" not in str(dict(raw))  # no bot token kept with the account

    await auth.app.state.relay.drain()
    assert auth.events.types(account["id"]) == [*events_before, "connected"]
    topic, _, payload = [e for e in auth.events.published if e[1] == account["id"]][-1]
    assert topic == "accounts.v1"
    assert payload["type"] == "connected"
    assert payload["display_name"] == "My Channel"
    assert "AAsandbox" not in str(payload)


async def test_the_bot_api_is_asked_who_runs_the_channel(auth, sign_in, fresh_sandbox):
    await set_up_channel(fresh_sandbox)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        linked = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": "@mychannel"}
        )
    assert linked.status_code == 200
    async with httpx.AsyncClient() as http:
        calls = (await http.get(f"{fresh_sandbox.base_url}/sandbox/telegram/calls")).json()
    assert calls["calls"]["getChat"] == 1
    assert calls["calls"]["getChatMember"] == 2  # our bot, then the person


@pytest.mark.parametrize(
    ("channel_id", "setup", "says"),
    [
        pytest.param(
            str(CHANNEL_ID),
            {"bot_status": "left"},
            "our bot is not an administrator of that channel",
            id="bot-left-the-channel",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"bot_status": "kicked"},
            "our bot is not an administrator of that channel",
            id="bot-banned",
        ),
        pytest.param(
            "@mychannel",
            {"bot_status": "member"},
            "our bot is not an administrator of that channel",
            id="bot-only-subscribed",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"bot_can_post_messages": False},
            "our bot is an administrator of that channel but may not post",
            id="bot-admin-without-post-rights",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"admins": [{"user_id": BOB, "status": "creator"}], "members": [{"user_id": ALICE}]},
            "you are not an administrator of that channel",
            id="person-only-subscribed",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"admins": [{"user_id": BOB, "status": "creator"}]},
            "you are not an administrator of that channel",
            id="person-not-in-the-channel",
        ),
        pytest.param(
            "@nosuchchannel",
            {},
            "Telegram knows no channel @nosuchchannel",
            id="unknown-username",
        ),
        pytest.param(
            "-1009999999999",
            {},
            "Telegram knows no channel -1009999999999",
            id="unknown-id",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"username": None, "bot_status": "left"},
            "a private channel needs our bot added as an administrator first",
            id="private-channel-without-our-bot",
        ),
    ],
)
async def test_a_channel_we_cannot_use_is_refused_with_a_problem_naming_channel_id(
    auth, sign_in, fresh_sandbox, channel_id, setup, says
):
    await set_up_channel(fresh_sandbox, **setup)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        [before] = (await browser.get("/api/v1/accounts")).json()
        await auth.app.state.relay.drain()
        events_before = auth.events.types(before["id"])
        refused = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": channel_id}
        )
        [after] = (await browser.get("/api/v1/accounts")).json()

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert says in problem["detail"]
    assert problem["errors"][0]["field"] == "channel_id"
    assert "AAsandbox" not in refused.text
    assert after["channel_id"] is None
    assert (await stored_account(auth)).channel_id is None
    await auth.app.state.relay.drain()
    assert auth.events.types(before["id"]) == events_before


async def test_a_refused_channel_leaves_an_already_linked_one_in_place(
    auth, sign_in, fresh_sandbox
):
    await set_up_channel(fresh_sandbox)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        first = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": str(CHANNEL_ID)}
        )
        await set_up_channel(fresh_sandbox, bot_can_post_messages=False)
        second = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": str(CHANNEL_ID)}
        )
    assert first.status_code == 200
    assert second.status_code == 422
    assert (await stored_account(auth)).channel_id == str(CHANNEL_ID)


async def test_a_disconnected_telegram_account_gets_no_channel_until_telegram_signs_in_again(
    auth, sign_in, fresh_sandbox
):
    await set_up_channel(fresh_sandbox)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        [account] = (await browser.get("/api/v1/accounts")).json()
        gone = await browser.delete(f"/api/v1/accounts/{account['id']}")
        await auth.app.state.relay.drain()
        events_before = auth.events.types(account["id"])
        refused = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": str(CHANNEL_ID)}
        )
    assert gone.status_code == 204, gone.text
    assert refused.status_code == 422, refused.text
    assert "sign in with Telegram again" in refused.json()["detail"]
    stored = await stored_account(auth)
    assert (stored.status, stored.channel_id) == ("revoked", None)
    await auth.app.state.relay.drain()
    assert auth.events.types(account["id"]) == events_before, "no connected event"


async def queue_fault(sandbox: Any, **fault: Any) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{sandbox.base_url}/sandbox/telegram/faults", json={"responses": [fault]}
        )
        answer.raise_for_status()


async def bot_calls(sandbox: Any) -> dict[str, int]:
    async with httpx.AsyncClient() as http:
        calls = (await http.get(f"{sandbox.base_url}/sandbox/telegram/calls")).json()
    return dict(calls["calls"])


async def test_a_429_from_telegram_is_passed_on_with_its_wait_and_never_retried_sooner(
    auth, sign_in, fresh_sandbox
):
    await set_up_channel(fresh_sandbox)
    await queue_fault(fresh_sandbox, method="getChat", status=429, retry_after=330)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        started = time.monotonic()
        refused = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": "@mychannel"}
        )
    assert time.monotonic() - started < 5
    assert refused.status_code == 422
    assert "Telegram asks us to wait 330 seconds" in refused.json()["detail"]
    assert (await bot_calls(fresh_sandbox))["getChat"] == 1  # not repeated on our own clock


@pytest.mark.parametrize("status", [400, 403])
async def test_a_channel_telegram_refuses_is_told_by_the_code_not_the_words(
    auth, sign_in, fresh_sandbox, status
):
    await set_up_channel(fresh_sandbox)
    await queue_fault(
        fresh_sandbox, method="getChat", status=status, description="words never seen before"
    )
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        refused = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": "@mychannel"}
        )
    assert refused.status_code == 422
    assert "Telegram knows no channel @mychannel" in refused.json()["detail"]


async def test_our_bot_refused_in_any_words_counts_as_outside_the_channel(
    auth, sign_in, fresh_sandbox
):
    await set_up_channel(fresh_sandbox)
    await queue_fault(
        fresh_sandbox, method="getChatMember", status=403, description="Forbidden: new words"
    )
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        refused = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": "@mychannel"}
        )
    assert refused.status_code == 422
    assert "our bot is not an administrator of that channel" in refused.json()["detail"]
