"""The VK communities an account administers, learned at sign-in (VK's groups.get
filter=admin extended=1) and carried to the queue on accounts.v1, so it can check a post's
owner_id, each with its name, so the dashboard shows "name (id)"."""

from __future__ import annotations

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
