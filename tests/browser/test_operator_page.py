"""Browser: an operator signs in through the sandbox's Telegram login and sees a failed post."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cachalot_testing.media import video_bytes
from cachalot_testing.operators import DEV_OPERATOR, failed_post, operator_sign_in
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser


def test_an_operator_signs_in_with_telegram_and_sees_a_failed_post_with_its_reason(
    stack: EmbeddedStack, browser: Any, sign_in: Any
) -> None:
    with httpx.Client(timeout=30) as client:
        post_id = failed_post(client, stack.gateway, stack.sandbox, caption="seen by an operator")
        client_id = client.get(f"{stack.gateway}/api/v1/me").json()["client_id"]
    context = browser.new_context()
    page = context.new_page()
    visited: list[str] = []
    page.on("framenavigated", lambda frame: visited.append(frame.url))
    try:
        sign_in.operator(page)  # Карина, the dev operator
        # signed in with Telegram: through the (sandbox's) Telegram login, back to our page
        assert any(url.startswith(stack.sandbox) for url in visited), visited
        row = page.wait_for_selector(f"#trouble-body tr[data-post='{post_id}']", timeout=15_000)
        assert row is not None
        reason = row.query_selector(".reason")
        assert reason is not None
        assert reason.text_content()
        page.wait_for_selector("#clients-body tr", timeout=15_000)  # loaded beside the list above
        assert page.text_content("#who") == "Карина"
        # the client named as the operator's Telegram messages name it (auth's label), not by id
        clients = page.evaluate(
            "async () => (await (await fetch('/api/v1/operator/clients')).json()).items"
        )
        (label,) = [c["label"] for c in clients if c["client_id"] == client_id]
        who = row.query_selector("td >> nth=1")
        assert who is not None
        assert who.text_content() == label
        assert client_id[:8] not in label
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


UNLABELLED = """() => [...document.querySelectorAll('table')]
  .filter((table) => table.offsetParent !== null && !table.closest('.fc'))
  .flatMap((table) => {
    const heads = [...table.querySelectorAll('thead th')];
    return [...table.querySelectorAll('tbody tr')].flatMap((row) => [...row.children]
      .map((td, i) => [td, heads[i]])
      .filter(([td, th]) => th && th.textContent.trim() && !th.hasAttribute('data-self-named')
        && td.textContent.trim() && !td.dataset.label)
      .map(([td, th]) => `${table.closest('section').id}: ${th.textContent.trim()}`));
  })"""
"""Every visible table's cell with text whose column has a name but the cell shows none
(the calendar's own layout tables, FullCalendar's ``.fc``, are not data tables)."""


def test_at_phone_width_every_cell_of_both_pages_tables_shows_its_columns_name(
    stack: EmbeddedStack, sign_in: Any, serious_violations: Any
) -> None:
    gateway = stack.gateway
    with httpx.Client(timeout=30) as http, httpx.Client(timeout=30) as ops:
        post_id = failed_post(http, gateway, stack.sandbox, caption="seen on a phone")
        client_id = http.get(f"{gateway}/api/v1/me").json()["client_id"]
        [account] = http.get(f"{gateway}/api/v1/accounts").json()
        assert operator_sign_in(ops, gateway, DEV_OPERATOR).status_code == 302
        media = ops.post(
            f"{gateway}/api/v1/operator/media",
            params={"client_id": client_id},
            content=video_bytes(),
            headers={"Content-Type": "video/mp4"},
        ).json()
        delivered = ops.post(
            f"{gateway}/api/v1/operator/deliveries",
            json={
                "client_id": client_id,
                "media_id": media["id"],
                "proposals": [
                    {
                        "targets": [
                            {
                                "account_id": account["id"],
                                "tiktok": {"caption": "for a phone", "privacy_level": "SELF_ONLY"},
                            }
                        ]
                    }
                ],
            },
        )
        assert delivered.status_code == 201, delivered.text
        proposal = delivered.json()["proposals"][0]["id"]
        phone = {"viewport": {"width": 390, "height": 844}}
        with sign_in.page(**phone) as operator, sign_in.page(**phone) as client:
            sign_in.operator(operator)
            operator.wait_for_selector(f"#trouble-body tr[data-post='{post_id}']")
            operator.wait_for_selector(f"#deliveries-body tr[data-proposal='{proposal}']")
            operator.wait_for_selector(f"#clients-body tr[data-client='{client_id}']")
            client.context.add_cookies(
                [
                    {
                        "name": "cachalot_session",
                        "value": http.cookies["cachalot_session"],
                        "url": gateway,
                    }
                ]
            )
            client.goto(f"{gateway}/")
            client.wait_for_selector(f"#posts-body tr[data-post='{post_id}'] .status.failed")
            client.wait_for_selector(f"#proposals-body tr[data-proposal='{proposal}']")
            for page in (operator, client):
                assert page.evaluate(UNLABELLED) == []
                assert serious_violations(page) == []
            status = operator.query_selector(f"#trouble-body tr[data-post='{post_id}'] td >> nth=3")
            assert status is not None
            shown = operator.evaluate("(td) => getComputedStyle(td, '::before').content", status)
            assert "Status" in shown  # what the phone shows before the status itself


def test_a_trouble_list_read_answered_late_never_replaces_the_one_asked_for_last(
    stack: EmbeddedStack, browser: Any, sign_in: Any
) -> None:
    """web12h (issue 12, the s10 MEDIUM's kind): the operator page drew every answer of its
    tables' reads as it came, so an older read answered after a newer one put the table back
    in the older state. Forced: the "Paused" list's read is held, "Failed" is chosen again
    and drawn, then the held answer arrives; the page's `cachalot:read-done` marks it taken."""
    with httpx.Client(timeout=30) as client:
        post_id = failed_post(client, stack.gateway, stack.sandbox, caption="read late")
    context = browser.new_context()
    page = context.new_page()

    def paused(request: Any) -> bool:
        return "status=paused" in request.url

    try:
        sign_in.operator(page)
        row = f"#trouble-body tr[data-post='{post_id}']"
        page.wait_for_selector(row, timeout=15_000)
        with sign_in.holding(page, "**/api/v1/operator/posts?status=*", paused) as held:
            page.check("input[name=trouble][value=paused]")
            sign_in.until_held(page, held, "read the paused list")
            page.check("input[name=trouble][value=failed]")
            page.wait_for_selector(row, timeout=15_000)  # the newer read, drawn
            sign_in.deliver_held(page, held, "cachalot:read-done", "trouble")
            assert page.is_visible(row), "the late paused list replaced the failed one"
    finally:
        context.close()
