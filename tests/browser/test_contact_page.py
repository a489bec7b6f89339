"""Browser: a visitor fills in the contact page in Chromium; the operator gets it."""

from __future__ import annotations

import json
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


FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
"""👨‍👩‍👧‍👦: one character as a reader sees it, 7 code points, 11 UTF-16 units."""


def test_a_pasted_message_is_counted_as_the_server_counts_it_and_never_cut_by_the_browser(
    stack: EmbeddedStack, browser: object
) -> None:
    """fix11b: the textarea's maxlength="4000" counted UTF-16 units, so 571 families
    (3,997 code points, within the service's limit) were cut by the browser inside a
    character and sent without notice. Now the page counts code points, as the server
    does, sends the whole text, and says at the field when a text is over."""
    within, over = FAMILY * 571, FAMILY * 572  # 3,997 and 4,004 code points
    page = browser.new_page()  # type: ignore[attr-defined]
    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.post_data or "") if r.url.endswith("/api/v1/contact") else None,
    )
    try:
        page.goto(f"{stack.gateway}/contact.html")
        page.fill("#name", "Family")
        page.fill("#contact", "+44 20 7946 0958")
        page.focus("#message")
        page.keyboard.insert_text(within)  # as a paste
        assert page.input_value("#message") == within
        assert page.text_content("#message-count") == "3997 of 4000 characters"
        page.click("#send")
        page.wait_for_selector("#result.ok", timeout=10_000)
        assert [json.loads(body)["message"] for body in sent] == [within]

        page.focus("#message")
        page.keyboard.insert_text(over)
        assert page.input_value("#message") == over
        page.wait_for_selector("#message-count.over")
        page.click("#send")
        page.wait_for_selector("#result.bad", timeout=10_000)
        error = page.text_content('.field-error[data-field="message"]')
        assert error == "This is 4004 characters; at most 4000 are taken."
        assert len(sent) == 1  # the over-long text was not sent
        # brought back within the limit, the field's length error goes at once
        page.fill("#message", "")
        page.focus("#message")
        page.keyboard.insert_text(within)
        assert page.text_content('.field-error[data-field="message"]') == ""
        assert page.get_attribute("#message", "aria-invalid") is None
    finally:
        page.close()
    # the server's own limit, counted the same way: 4,001 code points are refused naming it
    refused = httpx.post(
        f"{stack.gateway}/api/v1/contact",
        json={
            "name": "Family",
            "contact": "+44 20 7946 0958",
            "category": "other",
            "message": "a" * 4001,
        },
        timeout=10,
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["message"]
