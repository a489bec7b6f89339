"""Browser: an operator signs in through the sandbox's Telegram login and sees a failed post."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cachalot_testing.operators import failed_post
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser


def test_an_operator_signs_in_with_telegram_and_sees_a_failed_post_with_its_reason(
    stack: EmbeddedStack, browser: Any, sign_in: Any
) -> None:
    with httpx.Client(timeout=30) as client:
        post_id = failed_post(client, stack.gateway, stack.sandbox, caption="seen by an operator")
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in.operator(page)  # Карина, the dev operator
        row = page.wait_for_selector(f"#trouble-body tr[data-post='{post_id}']", timeout=15_000)
        assert row is not None
        reason = row.query_selector(".reason")
        assert reason is not None
        assert reason.text_content()
        page.wait_for_selector("#clients-body tr", timeout=15_000)  # loaded beside the list above
        assert page.text_content("#who") == "Карина"
    finally:
        context.close()


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en-GB", "is not an operator here"), ("ru-RU", "здесь не оператор")],
)
def test_a_telegram_user_who_is_not_an_operator_reads_why_and_how_to_get_access(
    stack: EmbeddedStack, browser: Any, sign_in: Any, locale: str, words: str
) -> None:
    context = browser.new_context(locale=locale)
    page = context.new_page()
    try:
        sign_in.operator(page, "700000001", until=None)  # a genuine user, not listed
        page.wait_for_url("**/operator.html?**", timeout=15_000)
        notice = page.wait_for_selector("#flash.bad", timeout=15_000)
        assert notice is not None
        text = notice.text_content() or ""
        assert words in text
        assert "CACHALOT_OPERATOR_TELEGRAM_IDS" in text
        assert "700000001" in text  # the id the administrator adds
        assert page.is_visible("#signin-telegram")  # and they may sign in again
        assert "cachalot_session" not in {c["name"] for c in context.cookies()}
    finally:
        context.close()
