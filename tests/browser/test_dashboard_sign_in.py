"""Browser: a person signs in on the dashboard with each sandbox platform."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

OAUTH = [
    ("tiktok", "TikTok", "tiktok"),
    ("youtube", "YouTube", "google"),
    ("instagram", "Instagram", "instagram"),
    ("vk", "VK", "vk"),
]


@pytest.fixture(autouse=True)
def consent_pages_are_shown(stack: EmbeddedStack) -> None:
    """Other tests may have switched the fake consent pages to answer by themselves."""
    for _, _, oauth in OAUTH:
        httpx.post(
            f"{stack.sandbox}/sandbox/oauth/{oauth}/config", json={"auto_consent": 0}, timeout=5
        ).raise_for_status()


@pytest.mark.parametrize(("platform", "label", "oauth"), OAUTH)
def test_a_person_signs_in_through_the_consent_page_and_sees_the_account(
    stack: EmbeddedStack, browser: Any, platform: str, label: str, oauth: str
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{stack.gateway}/")
        page.click(f'#signin-buttons a[data-platform="{platform}"]')
        page.wait_for_selector("button.allow", timeout=15_000)
        assert page.url.startswith(stack.sandbox)
        page.click("button.allow")
        page.wait_for_selector("#consent:not(.hidden)", timeout=15_000)
        page.fill("#email", f"{platform}-{uuid.uuid4().hex[:6]}@example.com")
        page.check("#adult")
        page.click("#consent-form button[type=submit]")
        page.wait_for_selector("#compose:not(.hidden), #accounts-body tr", timeout=15_000)
        row = page.text_content("#accounts-body")
        assert row is not None
        assert label in row  # the platform's name, not its key (dash12f)
        assert page.is_visible("#accounts-body .status.ok")
        # Disconnecting frees the sandbox's person for other tests, and is a flow to test too.
        page.click("#accounts-body button:has-text('Disconnect')")
        page.wait_for_selector("#flash.ok", timeout=15_000)
        page.wait_for_selector("#accounts-body .status.ok", state="detached", timeout=15_000)
    finally:
        context.close()


def test_denying_consent_lands_on_the_dashboard_with_a_message(
    stack: EmbeddedStack, browser: Any
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{stack.gateway}/")
        page.click('#signin-buttons a[data-platform="tiktok"]')
        page.wait_for_selector("button.deny", timeout=15_000)
        page.click("button.deny")
        page.wait_for_selector("#flash.bad", timeout=15_000)
        assert page.is_visible("#signin")
        assert page.text_content("#flash")
    finally:
        context.close()


def test_a_person_signs_in_with_telegram(stack: EmbeddedStack, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{stack.gateway}/")
        page.click('#signin-buttons a[data-platform="telegram"]')
        page.wait_for_selector("form button[name=user]", timeout=15_000)
        page.click("form button[name=user] >> nth=0")
        page.wait_for_selector("#consent:not(.hidden)", timeout=15_000)
        assert page.is_hidden("#signin")
    finally:
        context.close()
