"""Browser: an operator delivers a video with a proposal on the operator page; the client
asks for changes, then approves it on the dashboard; the operator sees both (issue 13 item 2)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from cachalot_testing.clients import connect_tiktok
from cachalot_testing.media import video_file
from cachalot_testing.operators import DEV_OPERATOR
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser


def test_an_operator_delivers_on_its_page_and_the_client_answers_on_the_dashboard(
    stack: EmbeddedStack, browser: Any
) -> None:
    marker = uuid.uuid4().hex[:8]
    with httpx.Client(timeout=30) as http:
        connect_tiktok(http, stack.gateway, f"sandbox-extra-ui-{marker}")
        client_id = http.get(f"{stack.gateway}/api/v1/me").json()["client_id"]
        cookie = http.cookies.get("cachalot_session")
    assert cookie
    operator_context = browser.new_context()
    client_context = browser.new_context()
    client_context.add_cookies(
        [{"name": "cachalot_session", "value": cookie, "url": stack.gateway}]
    )
    operator, client = operator_context.new_page(), client_context.new_page()
    try:
        operator.goto(f"{stack.gateway}/operator.html")
        operator.click("#signin-telegram")
        operator.wait_for_selector("button[name=user]", timeout=15_000)
        operator.click(f"button[name=user][value='{DEV_OPERATOR}']")
        operator.wait_for_selector(f"#deliver-client option[value='{client_id}']", state="attached")
        operator.select_option("#deliver-client", client_id)
        operator.set_input_files("#deliver-file", str(video_file()))
        operator.fill("#deliver-text", f"made for you {marker}")
        operator.fill("#deliver-note", "Friday's video")
        operator.select_option("#deliver-privacy", "SELF_ONLY")
        operator.wait_for_selector("#deliver-account option", state="attached")
        operator.click("#deliver-send")
        operator.wait_for_selector("#flash.ok, #flash.bad", timeout=30_000)
        assert "ok" in (operator.get_attribute("#flash", "class") or ""), operator.text_content(
            "#flash"
        )
        row = operator.wait_for_selector("#deliveries-body tr.proposed", timeout=15_000)
        proposal = row.get_attribute("data-proposal")

        client.goto(f"{stack.gateway}/")
        mine = f"#proposals-body tr[data-proposal='{proposal}']"
        client.wait_for_selector(mine, timeout=15_000)
        assert marker in (client.text_content(mine) or "")
        client.fill(f"{mine} input.comment", "Shorter caption, please")
        client.click(f"{mine} button.request-changes")
        client.wait_for_selector(f"{mine}.changes_requested", timeout=15_000)

        operator.reload()
        theirs = f"#deliveries-body tr[data-proposal='{proposal}']"
        operator.wait_for_selector(f"{theirs}.changes_requested", timeout=15_000)
        assert operator.text_content(f"{theirs} .comment") == "Shorter caption, please"

        client.click(f"{mine} button.approve")
        client.wait_for_selector(f"{mine}.approved", timeout=15_000)
        operator.reload()
        operator.wait_for_selector(f"{theirs}.approved", timeout=15_000)
    finally:
        operator_context.close()
        client_context.close()
