"""Clients of the whole system, made through its public paths (gateway and sandbox).

Whole-system tests and benchmarks need many clients with many accounts: the
sandbox's consent page answers for a person (``sandbox_auto=allow``) as
``sandbox-extra-<name>`` users it makes on demand, so any number of distinct
TikTok accounts can be connected through the real sign-in redirects.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx


def connect_tiktok(http: httpx.Client, gateway: str, user: str, *, consent: bool = True) -> str:
    """Sign in (or connect one more account) with TikTok as sandbox ``user``; its account id.

    ``http`` keeps the session cookie: the first call makes a client, later
    calls on the same ``http`` connect more accounts to it. The 18+ consent
    auth requires before leasing is given on the first, unless ``consent`` is
    false (then see :func:`give_consent`). Raises ``AssertionError`` if a step fails.
    """
    return connect_account(http, gateway, "tiktok", user, consent=consent)


def connect_account(
    http: httpx.Client, gateway: str, platform: str, user: str, *, consent: bool = True
) -> str:
    """:func:`connect_tiktok` for any platform whose sandbox sign-in is an OAuth redirect; the
    id of the account it connected: the one whose platform user id is ``user`` (TikTok, VK,
    Instagram; a reconnect finds it again), else the one this sign-in added (a
    ``sandbox-extra-*`` Google user comes with its own YouTube channel)."""
    before: set[str] = set()
    if http.cookies:
        before = {a["id"] for a in http.get(f"{gateway}/api/v1/accounts").json()}
    sign_in_as(http, gateway, platform, user)
    me = http.get(f"{gateway}/api/v1/me").json()
    if consent and not me.get("consent_given"):
        give_consent(http, gateway)
    accounts = [
        a for a in http.get(f"{gateway}/api/v1/accounts").json() if a["platform"] == platform
    ]
    same_user = [a for a in accounts if a["platform_user_id"] == user]
    added = [a for a in accounts if a["id"] not in before]
    found = same_user or added
    assert found, f"no {platform} account of {user} after signing in: {accounts}"
    return str(found[0]["id"])


def sign_in_as(http: httpx.Client, gateway: str, platform: str, user: str) -> None:
    """One sign-in (a first connection, or the dashboard's Reconnect when ``http`` is signed
    in) through the real redirects, the sandbox's consent page answering Allow as ``user``.
    Raises ``AssertionError`` unless it lands on the dashboard with the account connected."""
    start = http.get(
        f"{gateway}/api/v1/auth/{platform}/login", params={"next": "/"}, follow_redirects=False
    )
    assert start.status_code == 302, start.text
    allow = httpx.URL(start.headers["location"]).copy_merge_params(
        {"sandbox_auto": "allow", "sandbox_user": user}
    )
    landed = http.get(allow, follow_redirects=True)
    assert f"connected={platform}" in str(landed.url), f"{landed.url} {landed.status_code}"


def give_consent(http: httpx.Client, gateway: str) -> dict[str, Any]:
    """``POST /api/v1/me/consent`` (18+, a fresh email) for ``http``'s client; the profile."""
    agreed = http.post(
        f"{gateway}/api/v1/me/consent",
        json={"adult": True, "email": f"c-{uuid.uuid4().hex[:8]}@example.com"},
    )
    assert agreed.status_code == 200, agreed.text
    return dict(agreed.json())


def upload_media(
    http: httpx.Client, gateway: str, data: bytes, content_type: str = "video/mp4"
) -> dict[str, Any]:
    """``POST /api/v1/media`` (a video by default); the media as the API returns it."""
    response = http.post(
        f"{gateway}/api/v1/media", content=data, headers={"content-type": content_type}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def create_post(http: httpx.Client, gateway: str, body: dict[str, Any]) -> str:
    """``POST /api/v1/posts``, retried for up to 30 s while the queue learns the accounts."""
    key = str(uuid.uuid4())
    deadline = time.monotonic() + 30
    while True:
        response = http.post(f"{gateway}/api/v1/posts", json=body, headers={"Idempotency-Key": key})
        if response.status_code in (200, 201):
            return str(response.json()["id"])
        assert time.monotonic() < deadline, response.text
        time.sleep(0.2)


def iso_at(ts: float) -> str:
    """A Unix time as the API's ISO 8601 with milliseconds, UTC."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    return f"{whole}.{int((ts % 1) * 1000):03d}+00:00"
