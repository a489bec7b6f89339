"""Linking a Telegram channel, checked with the sandbox's Bot API over real HTTP."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from cachalot_auth.models import Account, Token
from cachalot_common.leases import LeaseReauthRequired
from cachalot_common.service_auth import mint_service_token

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
    assert account["display_name"] == before["display_name"]  # the person's name is kept
    assert account["channel_title"] == "My Channel"  # the channel is shown beside it
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
    assert payload["display_name"] == before["display_name"]
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
    ("channel_id", "setup", "says", "code"),
    [
        pytest.param(
            str(CHANNEL_ID),
            {"bot_status": "left"},
            "our bot is not an administrator of that channel",
            "bot_not_admin",
            id="bot-left-the-channel",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"bot_status": "kicked"},
            "our bot is not an administrator of that channel",
            "bot_not_admin",
            id="bot-banned",
        ),
        pytest.param(
            "@mychannel",
            {"bot_status": "member"},
            "our bot is not an administrator of that channel",
            "bot_not_admin",
            id="bot-only-subscribed",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"bot_can_post_messages": False},
            "our bot may not post in that channel: add @cachalot_sandbox_bot as an administrator",
            "bot_cannot_post",
            id="bot-admin-without-post-rights",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"admins": [{"user_id": BOB, "status": "creator"}], "members": [{"user_id": ALICE}]},
            "you are not an administrator of that channel",
            "not_channel_admin",
            id="person-only-subscribed",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"admins": [{"user_id": BOB, "status": "creator"}]},
            "you are not an administrator of that channel",
            "not_channel_admin",
            id="person-not-in-the-channel",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {
                "admins": [
                    {"user_id": BOB, "status": "creator"},
                    {"user_id": ALICE, "status": "administrator", "can_post_messages": False},
                ]
            },
            "you are an administrator of that channel without the right to post messages",
            "person_cannot_post",
            id="person-admin-without-post-rights",
        ),
        pytest.param(
            "@nosuchchannel",
            {},
            "Telegram knows no channel @nosuchchannel",
            "channel_unknown",
            id="unknown-username",
        ),
        pytest.param(
            "-1009999999999",
            {},
            "Telegram knows no channel -1009999999999",
            "channel_unknown",
            id="unknown-id",
        ),
        pytest.param(
            str(CHANNEL_ID),
            {"username": None, "bot_status": "left"},
            "add @cachalot_sandbox_bot as an administrator of the channel with the right to post",
            "channel_unknown",
            id="private-channel-without-our-bot",
        ),
    ],
)
async def test_a_channel_we_cannot_use_is_refused_with_a_problem_naming_channel_id(
    auth, sign_in, fresh_sandbox, channel_id, setup, says, code
):
    """The words for a person reading English (with our bot's @username), and the code by
    which a page words it in its own language (``errors[].type``, web/words.js)."""
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
    assert problem["errors"][0]["type"] == f"channel_{code}"
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


# --- PUT /api/v1/accounts/{id}/telegram-channel, the lease's destination, the publisher's reports


async def linked_telegram(auth: Any, sign_in: Any, consent: Any, sandbox: Any) -> str:
    await set_up_channel(sandbox)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
        assert account["needs_channel"] is True
        linked = await browser.put(
            f"/api/v1/accounts/{account['id']}/telegram-channel", json={"channel": "@mychannel"}
        )
    assert linked.status_code == 200, linked.text
    assert linked.json()["needs_channel"] is False
    return str(account["id"])


async def report(
    auth: Any, secrets: dict[str, str], grant: Any, row: Any, *, forge: bool = False, **body: Any
) -> httpx.Response:
    """A report as publisher-telegram sends it (its service JWT, the command's grant)."""
    post_id = uuid.uuid4()
    signed = grant(row, post_id=post_id)
    if forge:
        signed = signed.rsplit(".", 1)[0] + ".forged"
    token = mint_service_token(service="publisher-telegram", secret=secrets["publisher-telegram"])
    async with httpx.AsyncClient() as http:
        return await http.post(
            f"{auth.base_url}/internal/v1/accounts/{row.id}/telegram-channel",
            headers={"Authorization": f"Bearer {token}"},
            json={"grant": signed, "post_id": str(post_id), **body},
        )


async def test_a_channel_is_linked_to_the_telegram_account_named_in_the_path(
    auth, sign_in, consent, fresh_sandbox
):
    account_id = await linked_telegram(auth, sign_in, consent, fresh_sandbox)
    assert (await stored_account(auth)).channel_id == str(CHANNEL_ID)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        elsewhere = await browser.put(
            f"/api/v1/accounts/{uuid.uuid4()}/telegram-channel", json={"channel": "@mychannel"}
        )
    assert elsewhere.status_code == 404
    assert account_id


async def test_a_channel_where_our_bot_may_not_post_is_refused_naming_channel_and_the_fix(
    auth, sign_in, fresh_sandbox
):
    await set_up_channel(fresh_sandbox, bot_status="member")
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        [account] = (await browser.get("/api/v1/accounts")).json()
        refused = await browser.put(
            f"/api/v1/accounts/{account['id']}/telegram-channel", json={"channel": "@mychannel"}
        )
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["errors"][0]["field"] == "channel"
    assert (
        "add @cachalot_sandbox_bot as an administrator of the channel with the right to post"
        in problem["detail"]
    )


async def test_an_unlinked_telegram_account_is_not_leased_until_a_channel_is_linked(
    auth, sign_in, consent, lease_client, fresh_sandbox
):
    await set_up_channel(fresh_sandbox)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
    async with httpx.AsyncClient() as http:
        leases = lease_client(auth, http)
        with pytest.raises(LeaseReauthRequired) as refused:
            await leases.lease(uuid.UUID(account["id"]), post_id=uuid.uuid4())
        assert refused.value.code == "channel_not_linked"
        assert "link a channel first" in str(refused.value)
        async with auth.browser() as browser:
            await sign_in(browser, "telegram")
            await browser.put(
                f"/api/v1/accounts/{account['id']}/telegram-channel",
                json={"channel": str(CHANNEL_ID)},
            )
        lease = await leases.lease(uuid.UUID(account["id"]), post_id=uuid.uuid4())
    assert lease.destination == str(CHANNEL_ID)
    assert lease.access_token == ""  # the bot is ours: no token of the client's


async def test_a_channel_lease_carries_the_clients_language_for_the_bots_words(
    auth, sign_in, consent, lease_client, fresh_sandbox
):
    """publisher-telegram words the lines it adds (a Telegraph announcement's link) in the
    client's language, the one the notifier's e-mails use (issue 10)."""
    account_id = uuid.UUID(await linked_telegram(auth, sign_in, consent, fresh_sandbox))
    async with httpx.AsyncClient() as http:
        leases = lease_client(auth, http)
        unsaid = await leases.lease(account_id, post_id=uuid.uuid4())
        for language in ("ru", "en"):
            async with auth.browser() as browser:
                await sign_in(browser, "telegram")
                given = await browser.post(
                    "/api/v1/me/consent",
                    json={"adult": True, "email": "client@example.com", "language": language},
                )
                assert given.status_code == 200, given.text
            lease = await leases.lease(account_id, post_id=uuid.uuid4())
            assert lease.language == language
    assert unsaid.language is None


async def test_a_broken_link_reported_by_the_publisher_pauses_the_account_until_linked_again(
    auth, sign_in, consent, lease_client, grant, fresh_sandbox, service_secrets
):
    account_id = await linked_telegram(auth, sign_in, consent, fresh_sandbox)
    row = await stored_account(auth)
    fix = "add @cachalot_sandbox_bot as an administrator of the channel with the right to post"
    broken = await report(
        auth,
        service_secrets,
        grant,
        row,
        event="broken",
        chat_id=str(CHANNEL_ID),
        reason=fix,
    )
    assert broken.status_code == 204, broken.text
    stored = await stored_account(auth)
    assert (stored.status, stored.status_reason) == ("needs_channel", fix)
    await auth.app.state.relay.drain()
    assert auth.events.types(account_id)[-1] == "needs_channel"  # not a re-authorisation
    [event] = [p for _, k, p in auth.events.published if k == account_id][-1:]
    assert event["code"] == "channel_link_broken"  # the channel, not the sign-in
    async with httpx.AsyncClient() as http:
        with pytest.raises(LeaseReauthRequired) as refused:
            await lease_client(auth, http).lease(uuid.UUID(account_id), post_id=uuid.uuid4())
    assert refused.value.code == "channel_link_broken"
    assert fix in str(refused.value)

    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        [listed] = (await browser.get("/api/v1/accounts")).json()
        assert (listed["status"], listed["needs_channel"]) == ("needs_channel", True)
        again = await browser.put(
            f"/api/v1/accounts/{account_id}/telegram-channel", json={"channel": "@mychannel"}
        )
    assert again.json()["status"] == "ok"
    await auth.app.state.relay.drain()
    assert auth.events.types(account_id)[-1] == "connected"


async def test_a_migrated_chat_id_is_stored_and_reports_need_the_publishers_grant(
    auth, sign_in, consent, grant, fresh_sandbox, service_secrets
):
    await linked_telegram(auth, sign_in, consent, fresh_sandbox)
    row = await stored_account(auth)
    refused = await report(
        auth,
        service_secrets,
        grant,
        row,
        forge=True,
        event="migrated",
        chat_id=str(CHANNEL_ID),
        migrate_to_chat_id="-1005555555555",
    )
    assert refused.status_code == 403
    assert (await stored_account(auth)).channel_id == str(CHANNEL_ID)
    moved = await report(
        auth,
        service_secrets,
        grant,
        row,
        event="migrated",
        chat_id=str(CHANNEL_ID),
        migrate_to_chat_id="-1005555555555",
    )
    assert moved.status_code == 204, moved.text
    assert (await stored_account(auth)).channel_id == "-1005555555555"


async def test_a_migrated_chat_report_with_the_new_title_renames_the_channel_the_client_sees(
    auth, sign_in, consent, grant, fresh_sandbox, service_secrets
):
    await linked_telegram(auth, sign_in, consent, fresh_sandbox)
    row = await stored_account(auth)
    moved = await report(
        auth,
        service_secrets,
        grant,
        row,
        event="migrated",
        chat_id=str(CHANNEL_ID),
        migrate_to_chat_id="-1005555555555",
        title="My channel (supergroup)",
    )
    assert moved.status_code == 204, moved.text
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        [listed] = (await browser.get("/api/v1/accounts")).json()
    assert (listed["channel_id"], listed["channel_title"]) == (
        "-1005555555555",
        "My channel (supergroup)",
    )
    # a report naming a chat the account no longer posts to changes nothing
    stale = await report(
        auth,
        service_secrets,
        grant,
        row,
        event="migrated",
        chat_id=str(CHANNEL_ID),
        migrate_to_chat_id="-1006666666666",
        title="Someone else's",
    )
    assert stale.status_code == 204
    stored = await stored_account(auth)
    assert (stored.channel_id, stored.channel_title) == (
        "-1005555555555",
        "My channel (supergroup)",
    )


async def test_a_telegram_sign_in_without_a_channel_is_stored_and_announced_as_needing_one(
    auth, sign_in, consent, fresh_sandbox
):
    await set_up_channel(fresh_sandbox)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
    assert (account["status"], account["needs_channel"]) == ("needs_channel", True)
    await auth.app.state.relay.drain()
    assert auth.events.types(account["id"])[-1] == "needs_channel"
    [event] = [p for _, k, p in auth.events.published if k == account["id"]][-1:]
    assert event["code"] == "channel_not_linked"
    assert "link a channel" in event["reason"]


async def test_signing_in_again_keeps_a_broken_channel_link_needing_a_channel(
    auth, sign_in, consent, grant, fresh_sandbox, service_secrets
):
    account_id = await linked_telegram(auth, sign_in, consent, fresh_sandbox)
    row = await stored_account(auth)
    await report(auth, service_secrets, grant, row, event="broken", chat_id=str(CHANNEL_ID))
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        [listed] = (await browser.get("/api/v1/accounts")).json()
    assert (listed["id"], listed["status"], listed["needs_channel"]) == (
        account_id,
        "needs_channel",
        True,
    )


async def test_a_channel_report_with_a_control_character_or_a_blank_title_is_refused_naming_it(
    auth, sign_in, consent, grant, fresh_sandbox, service_secrets
):
    """The one text rule (``cachalot_common.text.CheckedText``) on the publisher's report:
    the title is shown to the client, the reason sent to them."""
    await linked_telegram(auth, sign_in, consent, fresh_sandbox)
    row = await stored_account(auth)
    moved = {"event": "migrated", "chat_id": str(CHANNEL_ID), "migrate_to_chat_id": "-1005555"}
    for field, body in [
        ("title", {**moved, "title": "My\x00channel"}),
        ("title", {**moved, "title": "\u2800\u200b"}),
        ("reason", {"event": "broken", "chat_id": str(CHANNEL_ID), "reason": "add\x1bthe bot"}),
    ]:
        refused = await report(auth, service_secrets, grant, row, **body)
        assert refused.status_code == 422, (body, refused.text)
        assert [e["field"] for e in refused.json()["errors"]] == [field]
    stored = await stored_account(auth)
    assert (stored.channel_id, stored.status) == (str(CHANNEL_ID), "ok")


async def test_a_renamed_channel_shows_its_new_title_once_the_client_asks_to_read_it_again(
    auth, sign_in, fresh_sandbox
):
    """``POST /api/v1/accounts/{id}/details`` asks Telegram (``getChat``) for the linked
    channel's title: renamed since it was linked, the new one is kept and told as
    ``updated``; a channel our bot can no longer see keeps the title it had."""
    await set_up_channel(fresh_sandbox)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        linked = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": str(CHANNEL_ID)}
        )
        assert linked.status_code == 200, linked.text
        account_id = linked.json()["id"]
        await set_up_channel(fresh_sandbox, title="My Renamed Channel")

        read = await browser.post(f"/api/v1/accounts/{account_id}/details")

        assert read.status_code == 200, read.text
        assert read.json()["channel_title"] == "My Renamed Channel"
        await auth.app.state.relay.drain()
        assert auth.events.types(account_id)[-1] == "updated"
        async with auth.app.state.factory() as db:
            account = await db.get(Account, account_id)
            assert account is not None
            account.details_read_at = None  # as if a minute had passed
            await db.commit()
        await set_up_channel(fresh_sandbox, title="Gone", bot_status="left")
        kept = await browser.post(f"/api/v1/accounts/{account_id}/details")
        assert kept.status_code == 200, kept.text
        assert kept.json()["channel_title"] == "My Renamed Channel"


@pytest.mark.parametrize("written", ["mychannel", "t.me/mychannel", "https://t.me/mychannel/"])
async def test_a_channel_written_as_its_name_or_its_link_is_linked_as_its_username(
    auth, sign_in, fresh_sandbox, written
):
    """People copy a channel's link or write its bare name (fresh10b); both mean @mychannel."""
    await set_up_channel(fresh_sandbox)
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        [account] = (await browser.get("/api/v1/accounts")).json()
        posted = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": written}
        )
        put = await browser.put(
            f"/api/v1/accounts/{account['id']}/telegram-channel", json={"channel": written}
        )
    assert posted.status_code == 200, posted.text
    assert put.status_code == 200, put.text
    assert put.json()["channel_id"] == str(CHANNEL_ID)


async def test_an_unknown_channel_is_refused_with_its_code_and_the_channel_as_written(
    auth, sign_in, fresh_sandbox
):
    """The page words the refusal by its code (``channel_channel_unknown``) in its language."""
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        refused = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": "https://t.me/nosuchchannel"}
        )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["type"] == "channel_channel_unknown"
    assert error["channel"] == "@nosuchchannel"
    assert error["field"] == "channel_id"
    assert "Telegram knows no channel @nosuchchannel" in error["message"]  # English kept


async def test_with_two_telegram_accounts_a_channel_is_linked_only_to_the_one_named(
    auth, sign_in, fresh_sandbox
):
    """fresh10b: the id-less route picked any of the client's Telegram accounts. With two it
    refuses naming ``account_id``; named (in the body or the path), that one is linked."""
    await set_up_channel(fresh_sandbox, admins=[{"user_id": BOB, "status": "creator"}])
    async with auth.browser() as browser:
        await sign_in(browser, "telegram")
        await sign_in(browser, "telegram", user=str(BOB))
        accounts = (await browser.get("/api/v1/accounts")).json()
        assert len(accounts) == 2, accounts
        bob = next(a for a in accounts if a["platform_user_id"] == str(BOB))
        alice = next(a for a in accounts if a["id"] != bob["id"])
        refused = await browser.post(
            "/api/v1/accounts/telegram/channel", json={"channel_id": "@mychannel"}
        )
        named = await browser.post(
            "/api/v1/accounts/telegram/channel",
            json={"channel_id": "@mychannel", "account_id": bob["id"]},
        )
        by_path = await browser.put(
            f"/api/v1/accounts/{alice['id']}/telegram-channel", json={"channel": "@mychannel"}
        )
        after = {a["id"]: a for a in (await browser.get("/api/v1/accounts")).json()}
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["account_id"]
    assert named.status_code == 200, named.text
    assert named.json()["id"] == bob["id"]
    # Alice is not an administrator of Bob's channel: her own row is refused, Bob's kept
    assert by_path.status_code == 422, by_path.text
    assert after[bob["id"]]["channel_id"] == str(CHANNEL_ID)
    assert after[alice["id"]]["channel_id"] is None
