"""The VK communities an account administers, learned at sign-in (VK's groups.get
filter=admin extended=1) and carried to the queue on accounts.v1, so it can check a post's
owner_id, each with its name, so the dashboard shows "name (id)"."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from cachalot_auth.models import Account

ALICE = "100000001"  # the sandbox's first VK user, whom the scripted browser signs in as


async def community(sandbox: Any, group_id: int, admins: list[str], **extra: Any) -> None:
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{sandbox.base_url}/sandbox/vk/communities",
            json={"id": group_id, "admins": admins, **extra},
        )
        answer.raise_for_status()


async def last_event(auth: Any, account_id: str) -> dict[str, Any]:
    await auth.app.state.relay.drain()
    return dict([p for _, k, p in auth.events.published if k == account_id][-1])


async def test_a_vk_sign_in_records_the_communities_the_person_administers_and_says_so(
    auth, sign_in, consent, fresh_sandbox
):
    await community(fresh_sandbox, 41, [ALICE], name="Cats of Kazan", screen_name="kazancats")
    await community(fresh_sandbox, 42, ["999"], members=[ALICE])  # belongs, does not run it
    async with auth.browser() as browser:
        await sign_in(browser, "vk")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
    assert account["platform_user_id"] == ALICE
    assert account["communities"] == [41]  # the dashboard offers them for owner_id
    cats = {"id": 41, "name": "Cats of Kazan", "screen_name": "kazancats"}
    assert account["community_details"] == [cats]  # and names them
    event = await last_event(auth, account["id"])
    assert (event["type"], event["communities"]) == ("connected", [41])
    assert event["community_details"] == [cats]
    assert event["platform_user_id"] == ALICE  # the queue takes owner_id = this id only

    await community(fresh_sandbox, 42, ["999", ALICE])  # now Alice runs it too
    async with auth.browser() as browser:
        await sign_in(browser, "vk")
    event = await last_event(auth, account["id"])
    assert (event["type"], event["communities"]) == ("connected", [41, 42])
    assert event["community_details"] == [
        cats,
        {"id": 42, "name": "Community 42", "screen_name": "club42"},  # the sandbox's defaults
    ]
    async with auth.app.state.factory() as db:
        stored = (await db.scalars(select(Account))).one()
    assert stored.community_list() == [41, 42]


async def test_a_vk_sign_in_without_the_groups_right_leaves_the_communities_unknown(
    auth, sign_in, consent, fresh_sandbox
):
    await community(fresh_sandbox, 41, [ALICE])
    async with auth.browser() as browser:
        await sign_in(browser, "vk", scopes="vkid.personal_info wall video photos")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
    assert (account["communities"], account["community_details"]) == (None, None)
    event = await last_event(auth, account["id"])
    assert event["type"] == "connected"
    assert event["communities"] is None  # unknown: the queue does not check owner_id then
    assert event["community_details"] is None


async def test_other_platforms_carry_no_communities(auth, sign_in, consent, fresh_sandbox):
    async with auth.browser() as browser:
        await sign_in(browser, "youtube")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
    assert (await last_event(auth, account["id"])).get("communities") is None


async def test_community_names_are_read_again_on_the_clients_ask_at_most_once_a_minute(
    auth, sign_in, consent, fresh_sandbox
):
    """A community renamed (or a new one run) after sign-in shows once the client asks
    (``POST /api/v1/accounts/{id}/details``): told on accounts.v1 as ``updated``; an ask
    within a minute of the last read answers what is kept, without calling VK."""
    await community(fresh_sandbox, 41, [ALICE], name="Cats of Kazan", screen_name="kazancats")
    async with auth.browser() as browser:
        await sign_in(browser, "vk")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
        await community(fresh_sandbox, 41, [ALICE], name="Cats and Dogs of Kazan")
        await community(fresh_sandbox, 43, [ALICE], name="Birds")

        read = await browser.post(f"/api/v1/accounts/{account['id']}/details")

        assert read.status_code == 200, read.text
        renamed = [
            {"id": 41, "name": "Cats and Dogs of Kazan", "screen_name": "kazancats"},
            {"id": 43, "name": "Birds", "screen_name": "club43"},
        ]
        assert (read.json()["communities"], read.json()["community_details"]) == (
            [41, 43],
            renamed,
        )
        event = await last_event(auth, account["id"])
        assert (event["type"], event["communities"]) == ("updated", [41, 43])
        assert event["community_details"] == renamed

        await community(fresh_sandbox, 41, [ALICE], name="Renamed again")
        soon = await browser.post(f"/api/v1/accounts/{account['id']}/details")
        assert soon.status_code == 200, soon.text
        assert soon.json()["community_details"] == renamed  # kept: read less than a minute ago
        elsewhere = await browser.post(f"/api/v1/accounts/{uuid.uuid4()}/details")
        assert elsewhere.status_code == 404, elsewhere.text
    async with auth.browser() as stranger:
        refused = await stranger.post(f"/api/v1/accounts/{account['id']}/details")
        assert refused.status_code == 401, refused.text


async def test_asks_at_once_to_read_the_names_again_call_vk_once(
    auth, sign_in, consent, fresh_sandbox
):
    """The once-a-minute bound is one claim: of several asks at the same moment only one
    reads VK's communities (before, each checked the bound, then each called VK)."""
    await community(fresh_sandbox, 41, [ALICE], name="Cats of Kazan")
    async with auth.browser() as browser, httpx.AsyncClient() as http:
        await sign_in(browser, "vk")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()

        async def reads_of_groups() -> int:
            calls = (await http.get(f"{fresh_sandbox.base_url}/sandbox/vk/posts")).json()
            return int(calls["calls"].count("groups.get"))

        before = await reads_of_groups()
        await community(fresh_sandbox, 41, [ALICE], name="Cats and Dogs of Kazan")
        asks = await asyncio.gather(
            *(browser.post(f"/api/v1/accounts/{account['id']}/details") for _ in range(4))
        )
        after = await reads_of_groups()
    assert [a.status_code for a in asks] == [200] * 4, [a.text for a in asks]
    assert after - before == 1
    names = [a.json()["community_details"][0]["name"] for a in asks]
    assert "Cats and Dogs of Kazan" in names  # the one that read says the new name
