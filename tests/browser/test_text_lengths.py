"""Browser: every free-text field counts its length as the service does, in code points,
and no page lets the browser cut a pasted text (issue 11 item 3: the browser's maxlength
counts UTF-16 units and cuts silently, even inside a character). Platform texts are
counted by the composer as each platform counts (test_dashboard_compose.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from cachalot_testing.stack import EmbeddedStack

WEB = Path(__file__).resolve().parents[2] / "web"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
"""👨‍👩‍👧‍👦: one character as a reader sees it, 7 code points, 11 UTF-16 units."""


def test_no_page_lets_the_browser_cut_a_text_by_its_maxlength() -> None:
    found = [
        f"{path.name}:{number}"
        for path in sorted([*WEB.glob("*.html"), *WEB.glob("*.js")])
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bmaxlength\s*=|\.maxLength\b", line, re.IGNORECASE)
        and not line.lstrip().startswith("//")
    ]
    assert found == []


@pytest.mark.browser
def test_a_pasted_policy_summary_is_counted_in_characters_never_cut_and_refused_over_its_limit(
    stack: EmbeddedStack, browser: Any, sign_in: Any
) -> None:
    within, over = FAMILY * 71, FAMILY * 72  # 497 and 504 code points; 781 and 792 units
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sent: list[str] = []
    page.on(
        "request",
        lambda r: (
            sent.append(r.url)
            if r.url.endswith("/policy-versions") and r.method == "POST"
            else None
        ),
    )
    try:
        sign_in.operator(page)
        page.fill("#policy-version", "lengths-check")
        page.focus("#policy-summary")
        page.keyboard.insert_text(within)  # as a paste
        assert page.input_value("#policy-summary") == within
        page.fill("#policy-summary", "")
        page.focus("#policy-summary")
        page.keyboard.insert_text(over)
        assert page.input_value("#policy-summary") == over
        page.click("#policy-publish")
        assert (
            page.text_content("#policy-summary-error")
            == "This is 504 characters; at most 500 are taken."
        )
        assert page.get_attribute("#policy-summary", "aria-invalid") == "true"
        assert sent == []  # nothing was sent
    finally:
        context.close()
