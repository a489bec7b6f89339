"""A reconnect repairs the account (issue 11, item 4), through the real auth service and
the sandbox's OAuth servers over HTTP.

The issue's scenario: a YouTube refresh token dies while Google still remembers the
consent; reconnecting skipped the consent prompt, got no new refresh token, showed
``ok`` for an hour and fell back to ``reauth_required`` for good.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select

from cachalot_auth.models import Token
from cachalot_common.leases import LeaseReauthRequired

ALICE = "108000000000000000001"  # the sandbox's Google users
BOB = "108000000000000000002"


async def refresh_tokens(auth: Any, account_id: str) -> list[Token]:
    async with auth.app.state.factory() as db:
        rows = await db.scalars(
            select(Token).where(Token.account_id == account_id, Token.kind == "refresh")
        )
        return list(rows.all())


async def sandbox_post(sandbox: Any, platform: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient() as http:
        answer = await http.post(sandbox.oauth(platform, path), json=body)
        answer.raise_for_status()
        return answer.json()


async def accounts(browser: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    return {a["platform_user_id"]: a for a in (await browser.get("/api/v1/accounts")).json()}


async def lease_works(auth: Any, lease_client: Any, account_id: str, *, force: bool) -> None:
    async with httpx.AsyncClient() as http:
        leased = await lease_client(auth, http).lease(
            uuid.UUID(account_id), post_id=uuid.uuid4(), force_refresh=force
        )
    assert leased.access_token


# the sandbox's name for the platform, auth's, and the sandbox user to sign in as
PLATFORMS = [("google", "youtube", ALICE), ("tiktok", "tiktok", None), ("vk", "vk", None)]


@pytest.mark.parametrize(("oauth", "platform", "user"), PLATFORMS)
async def test_a_dead_refresh_token_is_dropped_and_a_reconnect_brings_one_that_keeps_working(
    auth, sign_in, consent, lease_client, expire, fresh_sandbox, oauth, platform, user
):
    async with auth.browser() as browser:
        landed = await sign_in(browser, platform, user=user)
        assert landed.headers["location"] == f"/?connected={platform}"
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
    account_id = account["id"]
    assert await refresh_tokens(auth, account_id)
    # The refresh token dies; the platform still remembers the consent.
    died = await sandbox_post(
        fresh_sandbox, oauth, f"users/{account['platform_user_id']}/expire-refresh-tokens"
    )
    assert died["expired_refresh_tokens"] >= 1
    await expire(auth, account_id)
    async with httpx.AsyncClient() as http:
        with pytest.raises(LeaseReauthRequired):
            await lease_client(auth, http).lease(uuid.UUID(account_id), post_id=uuid.uuid4())
    assert await refresh_tokens(auth, account_id) == []  # dropped when the platform said so

    async with auth.browser() as browser:  # the owner signs in again to reconnect it
        landed = await sign_in(browser, platform, user=user)
        assert landed.headers["location"] == f"/?connected={platform}"
        [account] = (await browser.get("/api/v1/accounts")).json()
    assert account["id"] == account_id
    assert account["status"] == "ok"
    assert await refresh_tokens(auth, account_id)
    # ...and it stays ok once the access token has expired: the new refresh token works.
    await expire(auth, account_id)
    await lease_works(auth, lease_client, account_id, force=False)
    await lease_works(auth, lease_client, account_id, force=True)


async def test_the_issue_reconnect_while_signed_in_asks_google_for_consent_again(
    auth, sign_in, consent, lease_client, expire, fresh_sandbox
):
    await issue_scenario(auth, sign_in, consent, lease_client, expire, fresh_sandbox)


async def test_the_issue_reconnect_repairs_the_account_on_postgresql(
    auth_pg, sign_in, consent, lease_client, expire, fresh_sandbox
):
    await issue_scenario(auth_pg, sign_in, consent, lease_client, expire, fresh_sandbox)


async def issue_scenario(
    auth: Any, sign_in: Any, consent: Any, lease_client: Any, expire: Any, fresh_sandbox: Any
) -> None:
    async with auth.browser() as browser:
        await sign_in(browser, "youtube", user=ALICE)
        await consent(browser)
        account_id = (await accounts(browser))[ALICE]["id"]
        await sandbox_post(fresh_sandbox, "google", f"users/{ALICE}/expire-refresh-tokens")
        await expire(auth, account_id)
        async with httpx.AsyncClient() as http:
            with pytest.raises(LeaseReauthRequired):
                await lease_client(auth, http).lease(uuid.UUID(account_id), post_id=uuid.uuid4())
        assert (await accounts(browser))[ALICE]["status"] == "reauth_required"
        # The dashboard's reconnect, in the same signed-in browser.
        start = await browser.get("/api/v1/auth/youtube/login")
        params = httpx.URL(start.headers["location"]).params
        assert params["prompt"] == "consent"
        assert params["access_type"] == "offline"
        landed = await sign_in(browser, "youtube", user=ALICE)
        assert landed.headers["location"] == "/?connected=youtube"
        assert (await accounts(browser))[ALICE]["status"] == "ok"
    await expire(auth, account_id)
    await lease_works(auth, lease_client, account_id, force=False)
    async with auth.browser() as browser:
        await sign_in(browser, "youtube", user=ALICE)
        assert (await accounts(browser))[ALICE]["status"] == "ok"


async def test_a_second_google_account_that_had_granted_the_app_gets_a_refresh_token_too(
    auth, sign_in, consent, lease_client, expire, fresh_sandbox, platform_stats
):
    # Bob granted our app once before (Google remembers it), outside this client.
    async with auth.browser() as elsewhere:
        await sign_in(elsewhere, "youtube", user=BOB, stop_at_callback=True)
    async with auth.browser() as browser:
        await sign_in(browser, "youtube", user=ALICE)
        await consent(browser)
        # Alice's refresh token is live, and Google is asked for consent all the same...
        start = await browser.get("/api/v1/auth/youtube/login")
        assert httpx.URL(start.headers["location"]).params["prompt"] == "consent"
        chosen = await browser.get(
            httpx.URL(start.headers["location"]).copy_merge_params(
                {"sandbox_auto": "allow", "sandbox_user": BOB}
            )
        )
        # ...so Bob comes back with a refresh token at the first round.
        landed = await browser.get(chosen.headers["location"])
        assert landed.headers["location"] == "/?connected=youtube"
        held = await accounts(browser)
    assert {held[ALICE]["status"], held[BOB]["status"]} == {"ok"}
    assert await refresh_tokens(auth, held[BOB]["id"])
    assert (await platform_stats(fresh_sandbox, "google"))["consent_asked"] == 3
    await expire(auth, held[BOB]["id"])
    await lease_works(auth, lease_client, held[BOB]["id"], force=False)


# the sandbox's name for the platform, auth's, the sandbox user, how the platform's side
# kills the refresh (Instagram: access) token without telling CACHALOT, and how many
# consent pages asked again the sandbox counts (only Google's needs it for a new one)
UNSEEN = [
    ("google", "youtube", ALICE, "expire-refresh-tokens", 2),  # consent stays remembered
    ("tiktok", "tiktok", None, "expire-refresh-tokens", None),
    ("vk", "vk", None, "expire-refresh-tokens", None),
    ("instagram", "instagram", None, "revoke", None),  # no refresh token: its one token dies
]


@pytest.mark.parametrize(("oauth", "platform", "user", "kill", "asked_again"), UNSEEN)
async def test_a_token_that_died_unseen_is_replaced_by_the_clients_own_reconnect(
    auth,
    sign_in,
    consent,
    lease_client,
    expire,
    fresh_sandbox,
    platform_stats,
    oauth,
    platform,
    user,
    kill,
    asked_again,
):
    """fresh11c's MEDIUM: the token dies at the platform and CACHALOT never hears of
    it (the account stays ``ok``, its token row stays); the client reconnects from the
    dashboard anyway, and the account must come out with a token that works."""
    await sandbox_post(fresh_sandbox, "instagram", "config", {"min_refresh_age_s": 0})
    async with auth.browser() as browser:
        await sign_in(browser, platform, user=user)
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
        account_id = account["id"]
        held_before = await refresh_tokens(auth, account_id)
        died = await sandbox_post(
            fresh_sandbox, oauth, f"users/{account['platform_user_id']}/{kill}"
        )
        assert next(iter(died.values())) >= 1
        # CACHALOT has not used the token since: it still looks fine
        assert (await accounts(browser))[account["platform_user_id"]]["status"] == "ok"
        assert len(await refresh_tokens(auth, account_id)) == len(held_before)
        # The dashboard's reconnect, in the same signed-in browser.
        landed = await sign_in(browser, platform, user=user)
        assert landed.headers["location"] == f"/?connected={platform}"
        assert (await accounts(browser))[account["platform_user_id"]]["status"] == "ok"
    if asked_again is not None:  # Google gives a new refresh token only when asked again
        assert (await platform_stats(fresh_sandbox, oauth))["consent_asked"] == asked_again
    # the publisher's next lease, once the access token has run out, works
    await expire(auth, account_id)
    await lease_works(auth, lease_client, account_id, force=False)
    await lease_works(auth, lease_client, account_id, force=True)


def _answer_without_refresh_token(client_id: str, subject: str) -> dict[str, Any]:
    """A token answer as Google gives it when it issues no refresh token."""
    id_token = jwt.encode(
        {"iss": "https://accounts.google.com", "aud": client_id, "sub": subject, "name": "Ann"},
        "not-checked-by-auth-for-a-direct-answer-0123456789",
        algorithm="HS256",
    )
    return {
        "status": 200,
        "grant_type": "authorization_code",
        "body": {
            "access_token": f"ya29.no-refresh-{time.time_ns()}",
            "expires_in": 3599,
            "scope": "openid https://www.googleapis.com/auth/youtube.upload",
            "token_type": "Bearer",
            "id_token": id_token,
        },
    }


async def test_a_platform_that_sends_no_refresh_token_even_after_consent_is_not_shown_ok(
    auth, sign_in, fresh_sandbox, faults, query_of
):
    answer = _answer_without_refresh_token(auth.settings.google_client_id, "google-sub-77")
    await faults(fresh_sandbox, "google", [answer, answer])
    async with auth.browser() as browser:
        back = await sign_in(browser, "youtube", user=ALICE)
        repeat = httpx.URL(back.headers["location"])
        assert repeat.params["prompt"] == "consent"  # first: ask again, with consent
        consented = await browser.get(repeat.copy_merge_params({"sandbox_auto": "allow"}))
        landed = await browser.get(consented.headers["location"])
        assert query_of(landed)["auth_error"] == "sign_in_failed"
        assert query_of(landed)["reason"] == "no_refresh_token"
        assert (await browser.get("/api/v1/accounts")).status_code == 401  # never signed in


async def test_a_reconnect_that_brings_no_refresh_token_never_keeps_the_held_one_silently(
    auth, sign_in, consent, fresh_sandbox, faults, query_of, platform_stats
):
    """The held refresh token may have died unseen: a reconnect whose answer has none
    asks once more with consent, then refuses, rather than call the account repaired."""
    async with auth.browser() as browser:
        await sign_in(browser, "youtube", user=ALICE)
        await consent(browser)
        account_id = (await accounts(browser))[ALICE]["id"]
        assert await refresh_tokens(auth, account_id)
        answer = _answer_without_refresh_token(auth.settings.google_client_id, ALICE)
        await faults(fresh_sandbox, "google", [answer, answer])
        back = await sign_in(browser, "youtube", user=ALICE)
        repeat = httpx.URL(back.headers["location"])
        assert repeat.path.endswith("/o/oauth2/v2/auth")
        assert repeat.params["prompt"] == "consent"
        assert repeat.params["login_hint"] == ALICE
        consented = await browser.get(repeat.copy_merge_params({"sandbox_auto": "allow"}))
        landed = await browser.get(consented.headers["location"])
        assert query_of(landed)["reason"] == "no_refresh_token"
    assert (await platform_stats(fresh_sandbox, "google"))["token"] == {"authorization_code": 3}


async def test_an_instagram_token_the_platform_declared_dead_is_dropped_and_a_reconnect_repairs(
    auth, sign_in, consent, lease_client, fresh_sandbox
):
    # Instagram has no refresh token: its long-lived access token renews itself.
    await sandbox_post(fresh_sandbox, "instagram", "config", {"min_refresh_age_s": 0})
    async with auth.browser() as browser:
        await sign_in(browser, "instagram")
        await consent(browser)
        [account] = (await browser.get("/api/v1/accounts")).json()
    account_id = account["id"]
    await sandbox_post(fresh_sandbox, "instagram", f"users/{account['platform_user_id']}/revoke")
    async with httpx.AsyncClient() as http:
        with pytest.raises(LeaseReauthRequired):
            await lease_client(auth, http).lease(
                uuid.UUID(account_id), post_id=uuid.uuid4(), force_refresh=True
            )
    async with auth.app.state.factory() as db:
        held = (await db.scalars(select(Token).where(Token.account_id == account_id))).all()
    assert held == []  # the dead token is not kept
    async with auth.browser() as browser:
        landed = await sign_in(browser, "instagram")
        assert landed.headers["location"] == "/?connected=instagram"
        [account] = (await browser.get("/api/v1/accounts")).json()
    assert account["status"] == "ok"
    await lease_works(auth, lease_client, account_id, force=True)
