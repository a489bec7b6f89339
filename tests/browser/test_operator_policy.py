"""Browser: the operator publishes a privacy-policy version from the operator page (issue 12
item 6): version, what changed, publish; the list of versions with how many clients were
e-mailed; the client's e-mail arrives in the development mailbox once."""

from __future__ import annotations

import email
import email.policy
import json
import os
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe

from cachalot_testing.clients import connect_tiktok
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screens are kept: ``CACHALOT_SCREENSHOT_DIR``, else the run's temp dir."""
    chosen = os.environ.get("CACHALOT_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def policy_mails(var_dir: Path, address: str, version: str) -> list[EmailMessage]:
    found = []
    for path in sorted((var_dir / "mail").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        if str(message["To"]) == address and version in str(message["Subject"]):
            found.append(message)
    return found


def test_an_operator_publishes_a_policy_version_from_the_page_and_each_client_gets_one_email(
    stack: EmbeddedStack, browser: Any, sign_in: Any, screenshots: Path
) -> None:
    with httpx.Client(timeout=30) as client:  # a client with a connected account and an address
        connect_tiktok(client, stack.gateway, f"sandbox-extra-policy-{uuid.uuid4().hex[:8]}")
        address = client.get(f"{stack.gateway}/api/v1/me").json()["email"]
    assert address
    version = f"ui-{uuid.uuid4().hex[:8]}"
    summary = "Addresses are now kept 30 days after erasure instead of 90."
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        sign_in.operator(page)  # Карина, the dev operator; lists read
        errors.clear()  # the signed-out page's own 401 before the sign-in is expected

        # a version needs a name: said at the field, nothing sent
        page.click("#policy-publish")
        assert "Give the version a name" in (page.text_content("#policy-version-error") or "")
        assert page.get_attribute("#policy-version", "aria-invalid") == "true"
        assert page.evaluate("document.activeElement.id") == "policy-version"

        page.fill("#policy-version", version)
        page.fill("#policy-summary", summary)
        page.fill("#policy-url", f"{stack.gateway}/privacy.html")
        with page.expect_response(
            lambda r: (
                r.url.endswith("/api/v1/operator/policy-versions") and r.request.method == "POST"
            )
        ) as answer:
            page.click("#policy-publish")
        published = answer.value.json()
        assert answer.value.status == 201, published
        row = page.wait_for_selector(f"#policy-body tr[data-version='{version}']", timeout=15_000)
        assert row is not None
        assert summary in (row.text_content() or "")
        recipients = row.query_selector(".recipients")
        assert recipients is not None
        assert int(recipients.text_content() or "0") == published["recipients"] >= 1
        assert f"Version {version} published" in (page.text_content("#flash") or "")
        assert page.input_value("#policy-version") == ""  # the form is ready for the next one

        # the same version again: refused at its field, the list unchanged
        page.fill("#policy-version", version)
        page.click("#policy-publish")
        page.wait_for_function(
            "document.querySelector('#policy-version-error').textContent.length > 0"
        )
        assert page.text_content("#policy-version-error") == (
            "This already exists; choose another name."
        )
        assert page.text_content("#flash") == (  # not only "could not be published"
            f"Version {version} was published before; each version is announced once."
        )
        assert len(page.query_selector_all(f"#policy-body tr[data-version='{version}']")) == 1

        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 844})
            page.wait_for_timeout(300)
            page.screenshot(path=str(screenshots / f"operator-policy-{width}.png"), full_page=True)
            results = Axe().run(page, context="#policy")
            serious = [
                (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                for v in results.response["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            assert serious == [], (width, json.dumps(serious)[:2000])
    finally:
        context.close()
    assert not [e for e in errors if "409" not in e], errors  # the refused repeat is a 409

    deadline = time.monotonic() + 60
    while not (mails := policy_mails(stack.var_dir, address, version)):
        assert time.monotonic() < deadline, "the policy e-mail never arrived"
        time.sleep(0.3)
    time.sleep(1)  # a second copy would land by now
    [mail] = policy_mails(stack.var_dir, address, version)
    text = mail.get_body(preferencelist=("plain",))
    assert text is not None
    assert f"What changed: {summary}" in text.get_content()
    assert mails


def test_the_operator_page_is_in_russian_and_shows_how_many_policy_emails_were_delivered(
    stack: EmbeddedStack, sign_in: Any, screenshots: Path
) -> None:
    """A Russian browser gets the operator page in Russian; each published version shows
    how many e-mails were requested (auth), and how many the notifier delivered, could not
    deliver and still holds (GET /api/v1/operator/policy-deliveries through the gateway)."""
    with httpx.Client(timeout=30) as client:
        connect_tiktok(client, stack.gateway, f"sandbox-extra-policy-{uuid.uuid4().hex[:8]}")
        address = client.get(f"{stack.gateway}/api/v1/me").json()["email"]
    version = f"ru-{uuid.uuid4().hex[:8]}"
    errors: list[str] = []
    with sign_in.page(errors, locale="ru-RU", viewport={"width": 1280, "height": 900}) as page:
        page.goto(f"{stack.gateway}/operator.html")
        page.wait_for_selector("#signin-telegram:text('Войти через Telegram')", timeout=10_000)
        assert page.text_content("#signin h2") == "Вход для оператора"
        sign_in.operator(page)  # Карина, the dev operator; lists read
        errors.clear()  # the signed-out page's own 401 before the sign-in is expected
        assert page.get_attribute("html", "lang") == "ru"
        assert page.text_content("#policy h2") == "Версии политики конфиденциальности"
        assert page.text_content("#clients h2") == "Клиенты"
        assert page.text_content("#policy-publish") == "Опубликовать и написать клиентам"
        page.click("#policy-publish")  # no name: said at the field, in Russian
        assert page.text_content("#policy-version-error") == (
            "Дайте версии имя, например 2026-12-01."
        )
        page.fill("#policy-version", version)
        page.fill("#policy-summary", "Проверка доставки.")
        with page.expect_response(
            lambda r: (
                r.url.endswith("/api/v1/operator/policy-versions") and r.request.method == "POST"
            )
        ) as answer:
            page.click("#policy-publish")
        requested = answer.value.json()["recipients"]
        assert requested >= 1
        assert f"Версия {version} опубликована" in (page.text_content("#flash") or "")

        deadline = time.monotonic() + 60
        while not policy_mails(stack.var_dir, address, version):
            assert time.monotonic() < deadline, "the policy e-mail never arrived"
            time.sleep(0.3)
        row = f"#policy-body tr[data-version='{version}']"
        deadline = time.monotonic() + 60
        while True:  # every requested e-mail handled by the notifier
            page.reload()
            page.wait_for_selector(f"{row} .waiting", timeout=15_000)
            if page.text_content(f"{row} .waiting") == "0":
                break
            assert time.monotonic() < deadline, page.text_content(row)
            time.sleep(1)
        sent = int(page.text_content(f"{row} .sent") or "-1")
        missed = int(page.text_content(f"{row} .failed") or "-1")
        assert int(page.text_content(f"{row} .recipients") or "0") == requested
        assert sent >= 1  # this test's client, at least: its e-mail is in the mailbox
        assert sent + missed == requested
        headers = page.eval_on_selector_all(
            "#policy thead th", "cells => cells.map((c) => c.textContent)"
        )
        assert headers[-3:] == ["Писем доставлено", "Писем не доставлено", "Писем в ожидании"]
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 844})
            page.wait_for_timeout(300)
            page.screenshot(path=str(screenshots / f"operator-ru-{width}.png"), full_page=True)
            assert page.evaluate("document.scrollingElement.scrollWidth") <= width
            results = Axe().run(page)
            serious = [
                (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                for v in results.response["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            assert serious == [], (width, json.dumps(serious)[:2000])
    assert errors == []
