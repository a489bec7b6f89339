"""Auth refuses cross-origin writes, form bodies and strangers before reading a body.

Issue 8, items 5 and 6: a large body sent without a session (or without
service credentials) is answered while the client is still sending it, and
a page of a sibling origin cannot log the client out, erase them or
disconnect their accounts.
"""

from __future__ import annotations

import asyncio

import pytest

from cachalot_testing.bodies import send_body

SIBLING = {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"}
EIGHTY_MB = 80 * 1024 * 1024
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("path", ["/api/v1/me/consent", "/internal/v1/accounts/a1/lease"])
async def test_an_80_mb_body_without_credentials_is_answered_401_while_it_is_still_sent(auth, path):
    early = await asyncio.to_thread(
        send_body,
        auth.base_url,
        path,
        headers=JSON,
        declared_bytes=EIGHTY_MB,
        send_bytes=1024 * 1024,
    )
    assert early.status == 401, early.head
    assert b"application/problem+json" in early.head


async def test_a_body_declared_over_the_cap_is_answered_413_before_it_is_read(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
    early = await asyncio.to_thread(
        send_body,
        auth.base_url,
        "/api/v1/me/consent",
        headers={**JSON, "Cookie": cookie},
        declared_bytes=EIGHTY_MB,
        send_bytes=1024 * 1024,
    )
    assert early.status == 413, early.head


async def test_a_page_of_a_sibling_origin_can_neither_log_out_nor_erase_nor_disconnect(
    auth, sign_in, consent
):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        account = (await browser.get("/api/v1/accounts")).json()[0]["id"]
        for method, path in (
            ("POST", "/api/v1/auth/logout"),
            ("DELETE", "/api/v1/me"),
            ("DELETE", f"/api/v1/accounts/{account}"),
        ):
            answer = await browser.request(method, path, headers=SIBLING)
            assert answer.status_code == 403, (method, path, answer.text)
        refused = await browser.post(
            "/api/v1/me/consent", json={"adult": True, "email": "x@example.com"}, headers=SIBLING
        )
        assert refused.status_code == 403
        me = await browser.get("/api/v1/me")
        assert me.status_code == 200
        assert [a["id"] for a in (await browser.get("/api/v1/accounts")).json()] == [account]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_a_form_post_cannot_log_the_client_out(auth, sign_in, content_type):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        answer = await browser.post(
            "/api/v1/auth/logout", content=b"x=1", headers={"Content-Type": content_type}
        )
        assert answer.status_code == 415, answer.text
        assert (await browser.get("/api/v1/me")).status_code == 200


async def test_the_dashboards_own_page_logs_out(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        answer = await browser.post(
            "/api/v1/auth/logout", headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert answer.status_code == 204
        assert (await browser.get("/api/v1/me")).status_code == 401


async def test_consent_is_taken_only_as_json(auth, sign_in):
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        answer = await browser.post(
            "/api/v1/me/consent",
            content=b'{"adult": true, "email": "x@example.com"}',
            headers={"Content-Type": "text/plain"},
        )
    assert answer.status_code == 415
    assert answer.json()["accepted"] == ["application/json"]


async def test_the_openapi_document_lists_the_guards_answers(auth):
    async with auth.browser() as browser:
        paths = (await browser.get("/openapi.json")).json()["paths"]
    expected = {
        ("post", "/api/v1/me/consent"): {"401", "403", "413", "415"},
        ("delete", "/api/v1/me"): {"401", "403", "415"},
        ("post", "/api/v1/auth/logout"): {"403", "415"},
        ("post", "/api/v1/accounts/telegram/channel"): {"401", "403", "413", "415"},
        ("post", "/internal/v1/accounts/{account_id}/lease"): {"401", "403", "413", "415"},
        ("get", "/api/v1/me"): {"401"},
    }
    for (method, path), statuses in expected.items():
        assert statuses <= set(paths[path][method]["responses"]), (method, path)
