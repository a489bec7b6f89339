"""Public sign-in endpoints: per-IP rate limit; long-lived tokens kept alive."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from cachalot_auth.models import Token
from cachalot_auth.refresher import refresh_due


async def test_sign_in_is_rate_limited_per_ip_with_retry_after(start_auth, tmp_path):
    async with (
        start_auth(f"sqlite+aiosqlite:///{tmp_path}/auth.db", auth_rate_limit="3/minute") as auth,
        auth.browser() as browser,
    ):
        answers = [(await browser.get("/api/v1/auth/tiktok/login")).status_code for _ in range(3)]
        limited = await browser.get("/api/v1/auth/tiktok/callback")
        spoofed = await browser.get(
            "/api/v1/auth/tiktok/login", headers={"X-Forwarded-For": "203.0.113.9"}
        )
    assert answers == [302, 302, 302]
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["content-type"].startswith("application/problem+json")
    assert spoofed.status_code == 429  # an untrusted peer cannot pick its own key


async def test_the_background_refresher_renews_instagram_tokens_well_before_60_days(
    auth, sign_in, consent, fresh_sandbox
):
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            fresh_sandbox.oauth("instagram", "config"), json={"min_refresh_age_s": 0}
        )
        answer.raise_for_status()
    async with auth.browser() as browser:
        await sign_in(browser, "instagram")
        await consent(browser)
        account_id = (await browser.get("/api/v1/accounts")).json()[0]["id"]
    factory = auth.app.state.factory
    keeper = auth.app.state.keeper
    assert await refresh_due(factory, keeper, before_s=30 * 86400) == 0  # 60 days left
    async with factory() as db, db.begin():
        await db.execute(
            update(Token)
            .where(Token.account_id == account_id, Token.kind == "access")
            .values(
                expires_at=datetime.now(UTC) + timedelta(days=20),
                issued_at=datetime.now(UTC) - timedelta(days=40),
            )
        )
    assert await refresh_due(factory, keeper, before_s=30 * 86400) == 1
    async with factory() as db:
        token = await db.scalar(
            select(Token).where(Token.account_id == account_id, Token.kind == "access")
        )
    assert token.expires_at > datetime.now(UTC) + timedelta(days=59)
