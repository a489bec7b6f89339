"""Operators sign in with Telegram when listed; their session is its own role; they see
clients and never a token (issue 13, item 1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from cachalot_auth.models import Client, OperatorSessionRow
from cachalot_auth.operators import operator_id
from cachalot_common.sessions import COOKIE_NAME, read_session
from cachalot_testing.roles import WRONG_ROLE, wrong_role_requests

OPERATOR = "700000002"  # Bob, a sandbox Telegram user: the listed operator of `auth_ops`
STRANGER = "700000003"


async def operator_sign_in(browser: httpx.AsyncClient, user: str) -> httpx.Response:
    """Through our login, the sandbox's widget page (answering at once), our callback."""
    start = await browser.get("/api/v1/auth/operator/login")
    assert start.status_code == 302, start.text
    widget = await browser.get(
        httpx.URL(start.headers["location"]).copy_merge_params({"sandbox_auto": "1", "user": user})
    )
    assert widget.status_code in (302, 303), widget.text
    return await browser.get(widget.headers["location"])


async def count(running: Any, model: type) -> int:
    async with running.app.state.factory() as db:
        return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_listed_telegram_user_signs_in_as_an_operator_and_sees_who_they_are(auth_ops):
    async with auth_ops.browser() as browser:
        landed = await operator_sign_in(browser, OPERATOR)
        assert landed.status_code == 302, landed.text
        assert landed.headers["location"] == "/operator.html"
        me = await browser.get("/api/v1/operator/me")
    assert me.status_code == 200, me.text
    assert me.json()["telegram_user_id"] == OPERATOR
    assert me.json()["operator_id"] == str(operator_id(OPERATOR))
    # the name the other services record beside the operator's acts (issue 13)
    secret = auth_ops.settings.session_secret.get_secret_value()
    session = read_session(browser.cookies[COOKIE_NAME], secret=secret)
    assert session.name == me.json()["display_name"] == "Bob"  # Telegram's first name
    assert await count(auth_ops, Client) == 0  # an operator is not a client


async def test_a_telegram_user_not_listed_is_sent_back_to_the_page_saying_so_and_nothing_is_created(
    auth_ops,
):
    async with auth_ops.browser() as browser:
        refused = await operator_sign_in(browser, STRANGER)
        assert refused.status_code == 302, refused.text  # a page in words, not a raw problem
        assert refused.headers["location"] == (
            f"/operator.html?auth_error=not_an_operator&platform=operator&telegram_user_id={STRANGER}"
        )
        assert "cachalot_session" not in browser.cookies
        assert (await browser.get("/api/v1/operator/clients")).status_code == 401
    assert await count(auth_ops, OperatorSessionRow) == 0
    assert await count(auth_ops, Client) == 0


async def test_widget_data_for_an_operator_with_a_bad_hash_signs_nobody_in(auth_ops, fresh_sandbox):
    async with auth_ops.browser() as browser:
        start = await browser.get("/api/v1/auth/operator/login")
        state = httpx.URL(httpx.URL(start.headers["location"]).params["return_to"]).params["state"]
        data = (
            await browser.get(
                f"{fresh_sandbox.base_url}/sandbox/telegram/login-data", params={"id": OPERATOR}
            )
        ).json()
        data["first_name"] = "Mallory"  # changed after Telegram signed it
        back = await browser.get(
            "/api/v1/auth/operator/callback",
            params={"state": state, **{k: str(v) for k, v in data.items() if v is not None}},
        )
    assert back.status_code == 302
    assert "auth_error=sign_in_failed" in back.headers["location"]
    assert await count(auth_ops, OperatorSessionRow) == 0


async def test_operator_widget_data_that_repeats_a_field_is_a_400_naming_it(
    auth_ops, fresh_sandbox
):
    async with auth_ops.browser() as browser:
        start = await browser.get("/api/v1/auth/operator/login")
        state = httpx.URL(httpx.URL(start.headers["location"]).params["return_to"]).params["state"]
        data = (
            await browser.get(
                f"{fresh_sandbox.base_url}/sandbox/telegram/login-data", params={"id": OPERATOR}
            )
        ).json()
        items = [("state", state), *((k, str(v)) for k, v in data.items() if v is not None)]
        back = await browser.get(
            "/api/v1/auth/operator/callback", params=[*items, ("auth_date", "1")]
        )
    assert back.status_code == 400
    assert [e["field"] for e in back.json()["errors"]] == ["auth_date"]
    assert await count(auth_ops, OperatorSessionRow) == 0


async def test_a_client_session_is_refused_by_operator_endpoints_and_an_operator_by_client_ones(
    auth_ops, sign_in
):
    async with auth_ops.browser() as client, auth_ops.browser() as operator:
        await sign_in(client, "tiktok")
        await operator_sign_in(operator, OPERATOR)
        for path in ("/api/v1/operator/clients", "/api/v1/operator/me"):
            wrong = await client.get(path)
            assert wrong.status_code == 403, wrong.text
            assert wrong.json()["type"] == "https://cachalot.dev/problems/wrong-role"
        for path in ("/api/v1/me", "/api/v1/accounts", "/api/v1/me/export"):
            wrong = await operator.get(path)
            assert wrong.status_code == 403, (path, wrong.text)
            assert wrong.json()["role_required"] == "client"
        assert (await operator.delete("/api/v1/me")).status_code == 403
        assert (await client.get("/api/v1/me")).status_code == 200


async def test_the_clients_list_shows_accounts_and_status_and_holds_no_token_the_sandbox_issued(
    auth_ops, sign_in, consent, fresh_sandbox
):
    async with auth_ops.browser() as client, auth_ops.browser() as operator:
        await sign_in(client, "tiktok")
        await sign_in(client, "youtube")
        await consent(client, "someone@example.com")
        await operator_sign_in(operator, OPERATOR)
        listed = await operator.get("/api/v1/operator/clients")
    assert listed.status_code == 200, listed.text
    (row,) = listed.json()["items"]
    assert row["email"] == "someone@example.com"
    assert row["name"]
    assert {(a["platform"], a["status"]) for a in row["accounts"]} == {
        ("tiktok", "ok"),
        ("youtube", "ok"),
    }
    async with httpx.AsyncClient() as http:
        issued = (await http.get(f"{fresh_sandbox.base_url}/sandbox/issued-secrets")).json()
    secrets = [s for s in issued["access_tokens"] + issued["refresh_tokens"] if s]
    assert secrets, "the sandbox issued no token"
    text = listed.text
    assert not [s[:6] for s in secrets if s in text]
    assert "token" not in json.dumps(sorted(row)) + json.dumps([sorted(a) for a in row["accounts"]])


async def test_an_operator_logout_revokes_the_session_and_tells_every_service(auth_ops):
    async with auth_ops.browser() as browser:
        await operator_sign_in(browser, OPERATOR)
        kept = browser.cookies["cachalot_session"]
        assert (await browser.post("/api/v1/auth/logout")).status_code == 204
        browser.cookies.set("cachalot_session", kept)  # a copy kept from before
        assert (await browser.get("/api/v1/operator/clients")).status_code == 401
    ended = [p for t, _, p in auth_ops.events.published if t == "sessions.v1"]
    assert [(e["type"], e["client_id"]) for e in ended] == [("revoked", str(operator_id(OPERATOR)))]


async def test_an_operator_taken_off_the_list_loses_the_session_at_once(
    auth_on: Any, tmp_path: Path
):
    url = f"sqlite+aiosqlite:///{tmp_path}/auth.db"
    listed = auth_on(url, operator_telegram_ids=f"{OPERATOR},5")
    async with listed as running, running.browser() as browser:
        await operator_sign_in(browser, OPERATOR)
        kept = browser.cookies["cachalot_session"]
    async with auth_on(url, operator_telegram_ids="5") as running, running.browser() as browser:
        browser.cookies.set("cachalot_session", kept)
        assert (await browser.get("/api/v1/operator/me")).status_code == 401


async def test_every_api_route_of_auth_refuses_the_session_of_the_other_role(auth_ops, sign_in):
    async with auth_ops.browser() as client, auth_ops.browser() as operator:
        await sign_in(client, "tiktok")
        await operator_sign_in(operator, OPERATOR)
        document = (await client.get("/openapi.json")).json()
        requests = wrong_role_requests(document)
        assert {r.role for r in requests} == {"client", "operator"}
        for request in requests:
            http = operator if request.role == "client" else client
            answer = await http.request(
                request.method, request.path, headers=request.headers, content=request.body
            )
            assert answer.status_code == 403, (request, answer.text)
            assert answer.json()["type"] == WRONG_ROLE
        # and neither session was harmed by the walk
        assert (await client.get("/api/v1/me")).status_code == 200
        assert (await operator.get("/api/v1/operator/me")).status_code == 200
