"""What the notifier needs to write to clients (issue 12, items 6 and 7): a client's
address and language for the notifier alone, and privacy-policy versions the operator
publishes, announced once to every client with an active OAuth account."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_common import topics
from cachalot_common.service_auth import PUBLISHER_SERVICES, mint_service_token

OPERATOR = "700000002"  # Bob, a sandbox Telegram user
NOTIFIER_SECRET = "notifier-test-secret-0123456789abcdef"
SECRETS = {
    **{s: f"{s}-test-secret-0123456789" for s in PUBLISHER_SERVICES.values()},
    "notifier": NOTIFIER_SECRET,
}


@pytest.fixture
async def auth_notices(auth_on: Any, tmp_path: Path) -> AsyncIterator[Any]:
    async with auth_on(
        f"sqlite+aiosqlite:///{tmp_path}/auth.db",
        operator_telegram_ids=[int(OPERATOR)],
        service_credentials=json.dumps(SECRETS),
    ) as running:
        yield running


async def operator_sign_in(browser: httpx.AsyncClient) -> None:
    start = await browser.get("/api/v1/auth/operator/login")
    widget = await browser.get(
        httpx.URL(start.headers["location"]).copy_merge_params(
            {"sandbox_auto": "1", "user": OPERATOR}
        )
    )
    landed = await browser.get(widget.headers["location"])
    assert landed.status_code == 302, landed.text


async def contact_of(running: Any, client_id: str, service: str = "notifier") -> httpx.Response:
    token = mint_service_token(service=service, secret=SECRETS[service])
    async with running.browser() as http:
        return await http.get(
            f"/internal/v1/clients/{client_id}/contact",
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_the_notifier_alone_reads_a_clients_address_and_language(
    auth_notices, sign_in, caplog
):
    async with auth_notices.browser() as browser:
        await sign_in(browser, "tiktok")
        given = await browser.post(
            "/api/v1/me/consent",
            json={"adult": True, "email": "ada.notices@example.com", "language": "ru"},
        )
        assert given.status_code == 200, given.text
        assert given.json()["language"] == "ru"
        client_id = given.json()["client_id"]
    read = await contact_of(auth_notices, client_id)
    assert read.status_code == 200, read.text
    assert read.json() == {
        "email": "ada.notices@example.com",
        "language": "ru",
        "label": "ada.notices@example.com",
    }
    publisher = await contact_of(auth_notices, client_id, PUBLISHER_SERVICES["tiktok"])
    assert publisher.status_code == 403
    assert (await contact_of(auth_notices, str(uuid.uuid4()))).status_code == 404
    async with auth_notices.browser() as http:
        assert (await http.get(f"/internal/v1/clients/{client_id}/contact")).status_code == 401
    assert "ada.notices@example.com" not in caplog.text


async def test_the_notifier_and_the_operator_console_name_a_client_in_the_same_words(
    auth_notices, sign_in
):
    """The e-mail; without one the first account's name; never the id (issue 13)."""
    async with auth_notices.browser() as client, auth_notices.browser() as operator:
        await sign_in(client, "tiktok")
        client_id = (await client.get("/api/v1/me")).json()["client_id"]
        await operator_sign_in(operator)
        listed = (await operator.get("/api/v1/operator/clients")).json()["items"]
        (row,) = [c for c in listed if c["client_id"] == client_id]
        assert row["name"]  # the sandbox account's display name
        assert row["label"] == row["name"]
        assert (await contact_of(auth_notices, client_id)).json()["label"] == row["name"]
        given = await client.post(
            "/api/v1/me/consent", json={"adult": True, "email": "named@example.com"}
        )
        assert given.status_code == 200, given.text
        listed = (await operator.get("/api/v1/operator/clients")).json()["items"]
    (row,) = [c for c in listed if c["client_id"] == client_id]
    assert row["label"] == "named@example.com"
    assert (await contact_of(auth_notices, client_id)).json()["label"] == "named@example.com"
    assert client_id not in row["label"]


async def test_a_policy_version_is_announced_once_to_each_client_with_an_active_account(
    auth_notices, sign_in, consent
):
    async with (
        auth_notices.browser() as kept,
        auth_notices.browser() as gone,
        auth_notices.browser() as operator,
    ):
        await sign_in(kept, "tiktok")
        await consent(kept, "kept@example.com")
        kept_id = (await kept.get("/api/v1/me")).json()["client_id"]
        async with auth_notices.browser() as silent:  # an account, but never an address
            await sign_in(silent, "telegram")
        await sign_in(gone, "youtube")
        [account] = (await gone.get("/api/v1/accounts")).json()
        assert (await gone.delete(f"/api/v1/accounts/{account['id']}")).status_code == 204
        # a client may not publish a policy; an operator may, once per version
        refused = await kept.post("/api/v1/operator/policy-versions", json={"version": "2026-12"})
        assert refused.status_code == 403
        await operator_sign_in(operator)
        body = {
            "version": "2026-12",
            "url": "https://cachalot.test/privacy",
            "summary": "E-mail addresses are kept 30 days after erasure, not 90.",
        }
        first = await operator.post("/api/v1/operator/policy-versions", json=body)
        again = await operator.post("/api/v1/operator/policy-versions", json=body)
        bad = await operator.post("/api/v1/operator/policy-versions", json={"version": "x y"})
        listed = await operator.get("/api/v1/operator/policy-versions")
        not_for_clients = await kept.get("/api/v1/operator/policy-versions")
    assert first.status_code == 201, first.text
    assert first.json()["recipients"] == 1
    assert listed.status_code == 200, listed.text
    assert [(v["version"], v["summary"], v["recipients"]) for v in listed.json()["items"]] == [
        ("2026-12", body["summary"], 1)
    ]
    assert not_for_clients.status_code == 403
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "version"
    assert bad.status_code == 422
    await auth_notices.app.state.relay.drain()
    notices = [
        (key, payload)
        for topic, key, payload in auth_notices.events.published
        if topic == topics.NOTIFY
    ]
    assert [key for key, _ in notices] == [kept_id]
    [(_, payload)] = notices
    assert payload["type"] == "client_notice.requested"
    assert payload["policy_version"] == "2026-12"
    assert payload["policy_summary"] == body["summary"]
    assert "kept@example.com" not in json.dumps(payload)  # the address never enters Kafka


async def test_a_policy_summary_or_link_with_a_control_character_or_nothing_visible_is_refused(
    auth_notices: Any,
) -> None:
    """The one text rule (``cachalot_common.text.CheckedText``) on what the operator writes:
    the summary goes into every client's e-mail, so a NUL or a blank one is a 422 naming it."""
    async with auth_notices.browser() as operator:
        await operator_sign_in(operator)
        for field, body in [
            ("summary", {"version": "2027-01", "summary": "Kept 30 days\x00, not 90."}),
            ("summary", {"version": "2027-01", "summary": " \u200b "}),
            ("url", {"version": "2027-01", "url": "https://cachalot.test/privacy\x07"}),
        ]:
            refused = await operator.post("/api/v1/operator/policy-versions", json=body)
            assert refused.status_code == 422, (body, refused.text)
            assert [e["field"] for e in refused.json()["errors"]] == [field]
        listed = await operator.get("/api/v1/operator/policy-versions")
        fine = await operator.post(
            "/api/v1/operator/policy-versions",
            json={"version": "2027-01", "summary": "Two lines:\r\nkept 30 days."},
        )
    assert listed.json()["items"] == []  # nothing half-written
    assert fine.status_code == 201, fine.text
