"""TikTok's creator_info read for the composer (issue 12 item 2), over real HTTP
against the sandbox's TikTok: what the creator may post, live, kept 30 s."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from cachalot_auth.creator_info import CreatorInfo
from cachalot_auth.models import OutboxMessage
from cachalot_common import topics
from cachalot_common.crypto import generate_key


async def set_creator(sandbox, **options) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{sandbox.base_url}/sandbox/tiktok/creator", json=options)
        answer.raise_for_status()


async def arm_fault(sandbox, **fault) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{sandbox.base_url}/sandbox/tiktok/faults", json=fault)
        answer.raise_for_status()


async def test_the_composer_reads_the_creators_nickname_privacy_options_and_switches_live(
    auth, sign_in, consent, fresh_sandbox
):
    await set_creator(
        fresh_sandbox,
        privacy_level_options=["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
        duet_disabled=True,
        max_video_post_duration_sec=180,
    )
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
        answer = await browser.get(f"/api/v1/accounts/{account['id']}/tiktok/creator-info")

    assert answer.status_code == 200, answer.text
    info = answer.json()
    assert info["nickname"].startswith("Sandbox ")
    assert info["privacy_level_options"] == [
        "FOLLOWER_OF_CREATOR",
        "MUTUAL_FOLLOW_FRIENDS",
        "SELF_ONLY",
    ]
    assert (info["comment_disabled"], info["duet_disabled"], info["stitch_disabled"]) == (
        False,
        True,
        False,
    )
    assert info["max_video_post_duration_sec"] == 180
    assert info["can_post"] is True
    assert "access_token" not in answer.text


async def test_a_creator_at_tiktoks_posting_cap_is_told_so_in_words(
    auth, sign_in, consent, fresh_sandbox
):
    await arm_fault(
        fresh_sandbox, endpoint="creator_info", kind="spam_risk", detail="spam_risk_too_many_posts"
    )
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
        answer = await browser.get(f"/api/v1/accounts/{account['id']}/tiktok/creator-info")

    assert answer.status_code == 200, answer.text
    assert answer.json()["can_post"] is False
    assert "posted too much today" in answer.json()["cannot_post_reason"]
    assert answer.json()["cannot_post_code"] == "spam_risk_too_many_posts"  # a page words it


async def test_a_refused_read_names_tiktoks_code_for_the_page_to_word(
    auth, sign_in, consent, fresh_sandbox
):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
        # a refusal with TikTok's code that is no posting cap (a refused token is refreshed
        # and read again first: tests/e2e/test_creator_info_refresh.py)
        await arm_fault(
            fresh_sandbox, endpoint="creator_info", kind="spam_risk", detail="scope_not_authorized"
        )
        answer = await browser.get(f"/api/v1/accounts/{account['id']}/tiktok/creator-info")

    assert answer.status_code == 502, answer.text
    assert answer.json()["code"] == "scope_not_authorized"


async def test_creator_info_is_only_for_the_clients_own_tiktok_accounts(
    auth, sign_in, consent, fresh_sandbox
):
    async with auth.browser() as alice:
        await sign_in(alice, "tiktok")
        await consent(alice)
        [account] = (await alice.get("/api/v1/accounts")).json()
    async with auth.browser() as stranger:
        await sign_in(stranger, "youtube")
        await consent(stranger)
        [youtube] = (await stranger.get("/api/v1/accounts")).json()
        other = await stranger.get(f"/api/v1/accounts/{account['id']}/tiktok/creator-info")
        not_tiktok = await stranger.get(f"/api/v1/accounts/{youtube['id']}/tiktok/creator-info")
        nonsense = await stranger.get("/api/v1/accounts/not-an-id/tiktok/creator-info")
    async with auth.browser() as nobody:
        signed_out = await nobody.get(f"/api/v1/accounts/{account['id']}/tiktok/creator-info")

    assert (other.status_code, not_tiktok.status_code, nonsense.status_code) == (404, 404, 404)
    assert signed_out.status_code == 401


async def test_creator_info_is_kept_thirty_seconds_within_tiktoks_rate(
    auth, sign_in, consent, fresh_sandbox
):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
        first = await browser.get(f"/api/v1/accounts/{account['id']}/tiktok/creator-info")
        await set_creator(fresh_sandbox, comment_disabled=True)
        second = await browser.get(f"/api/v1/accounts/{account['id']}/tiktok/creator-info")

    assert first.status_code == second.status_code == 200
    assert second.json()["comment_disabled"] is False  # the kept answer, not a second call


async def test_two_auth_replicas_share_the_kept_creator_info_so_tiktok_is_asked_once(
    auth_on: Any, sign_in, consent, fresh_sandbox, tmp_path: Path
):
    url = f"sqlite+aiosqlite:///{tmp_path}/auth.db"
    keys = f"v1:{generate_key()}"  # both replicas unseal the same tokens
    async with auth_on(url, token_keys=keys) as one, auth_on(url, token_keys=keys) as two:
        async with one.browser() as browser:
            await sign_in(browser, "tiktok")
            await consent(browser)
            [account] = (await browser.get("/api/v1/accounts")).json()
            path = f"/api/v1/accounts/{account['id']}/tiktok/creator-info"
            first = await browser.get(path)
            session = browser.cookies["cachalot_session"]
        await set_creator(fresh_sandbox, comment_disabled=True)
        async with two.browser() as other:
            other.cookies.set("cachalot_session", session)
            second = await other.get(path)

    assert first.status_code == second.status_code == 200, second.text
    assert second.json() == first.json()  # the other replica's kept answer: no second call
    assert second.json()["comment_disabled"] is False


async def account_updates(auth: Any, account_id: str) -> list[dict[str, Any]]:
    """The ``updated`` events on accounts.v1 about the account, oldest first (the outbox
    rows, written in the read's transaction, before any relay)."""
    async with auth.app.state.factory() as db:
        rows = (
            await db.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == topics.ACCOUNTS, OutboxMessage.key == account_id)
                .order_by(OutboxMessage.id)
            )
        ).all()
    events = [json.loads(r.payload) for r in rows]
    return [e for e in events if e["type"] == "updated"]


async def test_a_read_that_finds_creator_info_changed_tells_the_queue_on_accounts_v1(
    auth, sign_in, consent, fresh_sandbox
):
    await set_creator(fresh_sandbox, privacy_level_options=["SELF_ONLY"], comment_disabled=True)
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
        path = f"/api/v1/accounts/{account['id']}/tiktok/creator-info"
        assert (await browser.get(path)).status_code == 200
        assert (await browser.get(path)).status_code == 200  # kept: no second event
        [first] = await account_updates(auth, account["id"])
        assert first["creator_info"] == {
            "privacy_level_options": ["SELF_ONLY"],
            "comment_disabled": True,
            "duet_disabled": False,
            "stitch_disabled": False,
            "max_video_post_duration_sec": first["creator_info"]["max_video_post_duration_sec"],
        }

        # read again later (a reader built from the same parts, keeping nothing)
        services = auth.app.state.services
        fresh = CreatorInfo(
            keeper=services.creator_info.keeper,
            tiktok=services.creator_info.tiktok,
            factory=auth.app.state.factory,
            keep_s=0,
        )
        client_id = first["client_id"]
        await fresh.read(client_id, account["id"])  # unchanged: nothing new to tell
        assert len(await account_updates(auth, account["id"])) == 1
        await set_creator(fresh_sandbox, privacy_level_options=["SELF_ONLY", "PUBLIC_TO_EVERYONE"])
        await fresh.read(client_id, account["id"])
    first_again, changed = await account_updates(auth, account["id"])
    assert first_again == first
    assert changed["creator_info"]["privacy_level_options"] == ["SELF_ONLY", "PUBLIC_TO_EVERYONE"]
