"""Browser: the dashboard shows only its own words, whatever the link it was opened with.

Issue 8, item 9: `/?auth_error=x&message=<any text>` put that text on our page, a
phishing aid. The page now words each code itself; nothing from the query is shown.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

BAIT = "Your account is locked. Call +1 555 0100 to unlock it"


def flash_after_opening(stack: EmbeddedStack, browser: Any, query: dict[str, str]) -> str:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{stack.gateway}/?{urlencode(query)}")
        page.wait_for_selector("#flash:not(.hidden)", timeout=15_000)
        text = page.text_content("#flash") or ""
        assert BAIT not in (page.text_content("body") or "")
        assert page.url == f"{stack.gateway}/"
        return text
    finally:
        context.close()


def test_a_known_error_code_shows_our_message_and_never_the_links_text(
    stack: EmbeddedStack, browser: Any
) -> None:
    text = flash_after_opening(
        stack, browser, {"auth_error": "access_denied", "platform": "tiktok", "message": BAIT}
    )
    assert text == "You declined access on TikTok. To connect it, sign in again and allow access."


def test_an_unknown_error_code_shows_the_generic_message(
    stack: EmbeddedStack, browser: Any
) -> None:
    text = flash_after_opening(
        stack, browser, {"auth_error": BAIT, "platform": BAIT, "message": BAIT, "reason": BAIT}
    )
    assert text.startswith("Sign-in with the platform did not complete.")


def test_a_code_named_like_an_object_property_is_still_unknown(
    stack: EmbeddedStack, browser: Any
) -> None:
    text = flash_after_opening(stack, browser, {"auth_error": "constructor", "platform": "vk"})
    assert text.startswith("Sign-in with VK did not complete.")


def test_an_account_in_use_on_an_unknown_platform_reads_as_a_sentence_without_naming_it(
    stack: EmbeddedStack, browser: Any
) -> None:
    unknown = flash_after_opening(
        stack, browser, {"auth_error": "account_in_use", "platform": BAIT}
    )
    assert unknown == (
        "This account is already connected to another CACHALOT client. "
        "Sign out and sign in with it, or use another account."
    )
    known = flash_after_opening(
        stack, browser, {"auth_error": "account_in_use", "platform": "youtube"}
    )
    assert known == (
        "This YouTube account is already connected to another CACHALOT client. "
        "Sign out and sign in with it, or use another YouTube account."
    )


def test_a_connected_link_names_only_a_platform_we_know(stack: EmbeddedStack, browser: Any) -> None:
    assert flash_after_opening(stack, browser, {"connected": BAIT}) == "Account connected."
    assert flash_after_opening(stack, browser, {"connected": "youtube"}) == "Connected YouTube."
