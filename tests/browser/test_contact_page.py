"""Browser: a visitor fills in the contact page in Chromium; the operator gets it."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser


def test_visitor_sends_the_contact_form_and_the_operator_sees_it(
    stack: EmbeddedStack, browser: object
) -> None:
    marker = uuid.uuid4().hex[:8]
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(f"{stack.gateway}/contact.html")
        page.fill("#name", f"Browser {marker}")
        page.fill("#contact", "+44 20 7946 0958")
        page.select_option("#category", "seo_articles")
        page.fill("#message", f"Need 10 articles <b>{marker}</b> & more")
        page.click("#send")
        page.wait_for_selector("#result.ok", timeout=10_000)
    finally:
        page.close()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = httpx.get(f"{stack.sandbox}/sandbox/telegram/messages", timeout=5).json()
        messages = body["messages"] if isinstance(body, dict) else body
        texts = [m["text"] for m in messages if marker in m.get("text", "")]
        if texts:
            assert f"Need 10 articles <b>{marker}</b> & more" in texts[0]
            assert "+442079460958" in texts[0]
            return
        time.sleep(0.2)
    raise AssertionError("the operator never got the browser's submission")


def test_field_errors_are_shown_next_to_the_field(stack: EmbeddedStack, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(f"{stack.gateway}/contact.html")
        page.fill("#name", "Someone")
        page.fill("#contact", "nobody")
        page.fill("#message", "hello")
        page.click("#send")
        page.wait_for_selector("#result.bad", timeout=10_000)
        error = page.text_content('.field-error[data-field="contact"]')
        assert error
    finally:
        page.close()
