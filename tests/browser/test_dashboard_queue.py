"""Browser: queueing a post updates "Your media" at once (its Posts column stayed 0).

The submit handler refreshed only the posts list; the media list, which counts
the posts made from each video, stayed as it was until the page was reloaded.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

BOB = "-000sandboxBobOpenId"
VIDEO = video_file()


def test_queueing_a_post_counts_it_in_your_media_without_a_reload(
    stack: EmbeddedStack, browser: Any
) -> None:
    httpx.post(
        f"{stack.sandbox}/sandbox/oauth/tiktok/config", json={"auto_consent": 0}, timeout=5
    ).raise_for_status()
    context = browser.new_context()
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.goto(f"{stack.gateway}/")
        page.click('#signin-buttons a[data-platform="tiktok"]')
        page.wait_for_selector("button.allow", timeout=15_000)
        page.check(f'input[name="sandbox_user"][value="{BOB}"]')
        page.click("button.allow")
        page.wait_for_selector("#consent:not(.hidden), #posts:not(.hidden)", timeout=15_000)
        if page.is_visible("#consent"):
            page.fill("#email", f"queue-{uuid.uuid4().hex[:6]}@example.com")
            page.check("#adult")
            page.click("#consent-form button[type=submit]")
        page.wait_for_selector('#targets input[data-platform="tiktok"]:checked', timeout=15_000)

        page.set_input_files("#video", str(VIDEO))
        page.fill('#targets [data-platform="tiktok"] [name="caption"]', "counted at once")
        page.wait_for_function(
            "document.querySelector('#targets .target[data-platform=\"tiktok\"] .tt-who strong')"
            " || document.querySelector('#targets [data-error=\"creator\"]').textContent",
            timeout=15_000,
        )
        assert page.text_content('#targets [data-error="creator"]') == ""
        page.select_option(
            '#targets .target[data-platform="tiktok"] [name="privacy_level"]', "SELF_ONLY"
        )
        ahead = datetime.now() + timedelta(days=2)  # nothing is published meanwhile
        page.fill("#when", ahead.strftime("%Y-%m-%dT%H:%M"))
        for _ in range(30):  # the queue may not have learned the account from accounts.v1 yet
            page.click("#queue-button")
            page.wait_for_selector("#queue-button:enabled", timeout=15_000)
            if page.is_visible("#flash.ok") and page.text_content("#flash") == "Queued.":
                break
            page.wait_for_timeout(300)
        assert page.text_content("#flash") == "Queued.", page.text_content("#post-errors")

        posts_cell = '#media-body tr:first-child td[data-label="Posts"]'
        page.wait_for_selector(f"{posts_cell}:has-text('1 (1 not finished)')", timeout=5_000)
        # frees the sandbox's person for other tests (its targets are cancelled)
        page.click("#accounts-body button:has-text('Disconnect')")
        page.wait_for_selector("#accounts-body .status.ok", state="detached", timeout=15_000)
    finally:
        context.close()
