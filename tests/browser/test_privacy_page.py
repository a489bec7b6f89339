"""Browser: the privacy page in English and Russian, stating the retention the queue applies.

The page's figure for how long a file is kept comes from the service's setting
(``GET /api/v1/privacy``: the queue's ``CACHALOT_MEDIA_RETENTION_DAYS``), never from a copy
in the page; the page is read by anyone, signed in or not.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser


def retention_days(stack: EmbeddedStack) -> float:
    facts = httpx.get(f"{stack.gateway}/api/v1/privacy", timeout=10)  # no session
    assert facts.status_code == 200, facts.text
    days: float = facts.json()["media_retention_days"]
    return days


def open_privacy(browser: Any, stack: EmbeddedStack, locale: str) -> tuple[Any, list[str]]:
    context = browser.new_context(locale=locale)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{stack.gateway}/privacy.html")
    page.wait_for_selector("#retention[data-days]", timeout=10_000)
    return page, errors


def no_serious_violations(page: Any) -> None:
    results = Axe().run(page)
    serious = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], json.dumps(serious)[:2000]


def test_the_privacy_page_states_the_configured_media_retention_in_english(
    stack: EmbeddedStack, browser: Any
) -> None:
    days = retention_days(stack)
    page, errors = open_privacy(browser, stack, "en-GB")
    try:
        assert page.get_attribute("html", "lang") == "en"
        assert page.text_content("h1") == "What we promise about your data"
        assert float(page.get_attribute("#retention", "data-days") or "nan") == days
        said = page.text_content("#retention") or ""
        assert f"failed for {days:g} days is deleted by itself" in said, said
        assert page.input_value("#language") == "en"
        no_serious_violations(page)
        assert errors == []
    finally:
        page.context.close()


def test_the_privacy_page_is_in_russian_for_a_russian_browser_with_the_same_figure(
    stack: EmbeddedStack, browser: Any
) -> None:
    days = retention_days(stack)
    page, errors = open_privacy(browser, stack, "ru-RU")
    try:
        assert page.get_attribute("html", "lang") == "ru"
        assert page.text_content("h1") == "Что мы обещаем о ваших данных"
        assert page.title() == "Конфиденциальность — CACHALOT"
        said = page.text_content("#retention") or ""
        assert said.startswith(f"Файл удаляется сам через {days:g} "), said
        assert "days" not in said
        assert "Мы не оказываем услуги лицам младше 18 лет." in (page.text_content("ul") or "")
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        no_serious_violations(page)
        assert errors == []
    finally:
        page.context.close()
