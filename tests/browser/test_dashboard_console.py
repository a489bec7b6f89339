"""Browser: the dashboard's console stays clean where a fresh user found errors (issue 12).

Choosing a video must not log the blob URL's ``net::ERR_FILE_NOT_FOUND``; a signed-out
(or signed-out-just-now) page asks ``/api/v1/me`` and nothing else; a TikTok account
that must be reconnected is not asked for its creator_info on every load.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

BOB = "-000sandboxBobOpenId"
VIDEO = video_file()


def refused_api_calls(page: Any) -> list[str]:
    """Paths of the page's ``/api/`` requests answered 4xx/5xx, appended as they come."""
    refused: list[str] = []
    page.on(
        "response",
        lambda r: (
            refused.append(httpx.URL(r.url).path) if "/api/" in r.url and r.status >= 400 else None
        ),
    )
    return refused


def console_errors(page: Any) -> list[tuple[str, str]]:
    """(text, url) of the page's console errors and uncaught exceptions."""
    errors: list[tuple[str, str]] = []
    page.on(
        "console",
        lambda m: errors.append((m.text, m.location.get("url", ""))) if m.type == "error" else None,
    )
    page.on("pageerror", lambda error: errors.append((str(error), "")))
    return errors


def beyond_who_is_signed_in(errors: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The errors other than GET /api/v1/me's 401 (the one question a signed-out page asks)."""
    return [(text, url) for text, url in errors if not url.endswith("/api/v1/me")]


def test_a_signed_out_dashboard_asks_who_is_signed_in_and_nothing_else(
    stack: EmbeddedStack, browser: Any
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        refused = refused_api_calls(page)
        errors = console_errors(page)
        page.goto(f"{stack.gateway}/")
        page.wait_for_selector("#signin:not(.hidden)", timeout=15_000)
        page.wait_for_load_state("networkidle")
        assert refused == ["/api/v1/me"]
        assert beyond_who_is_signed_in(errors) == []
    finally:
        context.close()


def test_choosing_a_video_then_signing_out_logs_no_console_error(sign_in: Any) -> None:
    errors: list[str] = []
    with sign_in(("tiktok", BOB), email="console", console=errors) as page:
        page.set_input_files("#video", str(VIDEO))
        page.wait_for_selector('#targets .preview img.thumb[src^="data:"]', timeout=15_000)
        page.set_input_files("#video", str(VIDEO))  # a second choice reads a new blob URL
        page.wait_for_selector('#targets .preview img.thumb[src^="data:"]', timeout=15_000)
        page.wait_for_load_state("networkidle")
        assert errors == []
        refused = refused_api_calls(page)
        page.click("#logout")
        page.wait_for_selector("#signin:not(.hidden)", timeout=15_000)
        page.wait_for_load_state("networkidle")
        assert set(refused) <= {"/api/v1/me"}
        # the 401 of /me (asked once more after signing out) is the only error logged
        assert [e for e in errors if "401" not in e] == []
        assert len(errors) == len(refused)
        # sign in again so the fixture can disconnect the account on leaving
        sign_in.connect(page, "tiktok", BOB)
        page.wait_for_selector("#posts:not(.hidden)", timeout=15_000)


def test_a_tiktok_account_to_reconnect_is_not_asked_for_its_settings_on_load(
    stack: EmbeddedStack, sign_in: Any
) -> None:
    oauth = f"{stack.sandbox}/sandbox/oauth/tiktok"
    before = httpx.get(f"{oauth}/config", timeout=5).json()
    # access tokens shorter than auth's refresh margin: every read of the account refreshes
    httpx.post(f"{oauth}/config", json={"access_token_lifetime_s": 60}, timeout=5)
    try:
        with sign_in(("tiktok", BOB), email="reconnect") as page:
            tiktok = '#targets .target[data-platform="tiktok"]'
            page.wait_for_selector(f"{tiktok} .tt-who strong", timeout=15_000)
            httpx.post(
                f"{oauth}/faults",
                json={"error": "invalid_grant", "grant_type": "refresh_token"},
                timeout=5,
            ).raise_for_status()
            asked: list[str] = []
            page.on("request", lambda r: asked.append(r.url) if "creator-info" in r.url else None)
            page.reload()  # this load's read meets invalid_grant: auth asks for a reconnect
            page.wait_for_selector(
                '#accounts-body tr[data-platform="tiktok"] .status.reauth_required',
                timeout=15_000,
            )
            asked.clear()
            page.reload()
            page.wait_for_selector(f'{tiktok}[data-status="reauth_required"]', timeout=15_000)
            page.wait_for_load_state("networkidle")
            assert asked == []
    finally:
        httpx.post(f"{oauth}/config", json=before, timeout=5)
        httpx.delete(f"{oauth}/faults", timeout=5)
