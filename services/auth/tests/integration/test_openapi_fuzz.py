"""Schemathesis against auth's own OpenAPI document: no 5xx, every answer documented."""

from __future__ import annotations

import asyncio
import json

from cachalot_auth.api.public import SIGN_IN_PLATFORMS
from cachalot_common.service_auth import mint_service_token
from cachalot_common.sessions import COOKIE_NAME
from cachalot_testing.fuzz import fuzz_openapi


async def test_generated_requests_to_auth_get_no_5xx_and_only_documented_answers(
    auth_with_queue, sign_in, consent
):
    """Signed in with consent given, a real queue behind the export; sign-out and erasure last.

    The browser has also started sign-in on every platform, so generated
    callbacks carry a valid binding cookie and reach the state and Telegram
    hash checks with whatever ``state`` and ``hash`` the fuzzer makes up.
    """
    auth = auth_with_queue
    async with auth.browser() as browser:
        await sign_in(browser, "tiktok")
        await consent(browser)
        for platform in SIGN_IN_PLATFORMS:
            started = await browser.get(f"/api/v1/auth/{platform}/login")
            assert started.status_code == 302, started.text
        cookies = {c.name: c.value for c in browser.cookies.jar}
        assert COOKIE_NAME in cookies
        document = (await browser.get("/openapi.json")).json()
    secret = json.loads(auth.settings.service_credentials.get_secret_value())["publisher-tiktok"]

    def service_credentials() -> dict[str, str]:
        """A fresh service JWT per request, so the lease endpoint is fuzzed past its 401."""
        token = mint_service_token(service="publisher-tiktok", secret=secret)
        return {"Authorization": f"Bearer {token}"}

    report = await asyncio.to_thread(
        fuzz_openapi,
        document,
        auth.base_url,
        cookies=cookies,
        max_examples=15,
        run_last=("POST /api/v1/auth/logout", "DELETE /api/v1/me"),
        headers_for=service_credentials,
    )
    print(report.summary())
    assert report.statuses[200] > 0, report.summary()
    assert report.findings == [], report.summary()
