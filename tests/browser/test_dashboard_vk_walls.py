"""Browser: a VK target's wall is chosen from the account's own wall and the communities its
person ran at sign-in, shown as "name (id)" (issue 10: auth's accounts API lists them with
their names), never typed as a number; "Refresh names" reads them again from VK."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

ALICE = "100000001"  # the sandbox's first VK person; test_dashboard_sign_in frees it too
VIDEO = Path(__file__).parents[1] / "fixtures" / "sample.mp4"
VK = '#targets .target[data-platform="vk"]'


def test_the_vk_wall_is_a_choice_of_own_wall_or_a_community_the_person_runs(
    stack: EmbeddedStack, browser: Any
) -> None:
    ours = 7_200_000 + int(uuid.uuid4().hex[:4], 16)
    httpx.post(
        f"{stack.sandbox}/sandbox/vk/communities",
        json={"id": ours, "admins": [ALICE], "name": "Whale watchers"},
        timeout=10,
    ).raise_for_status()
    httpx.post(
        f"{stack.sandbox}/sandbox/oauth/vk/config", json={"auto_consent": 0}, timeout=5
    ).raise_for_status()
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{stack.gateway}/")
        page.click('#signin-buttons a[data-platform="vk"]')
        page.wait_for_selector("button.allow", timeout=15_000)
        page.check(f'input[name="sandbox_user"][value="{ALICE}"]')
        page.click("button.allow")
        page.wait_for_selector("#consent:not(.hidden)", timeout=15_000)
        page.fill("#email", f"walls-{uuid.uuid4().hex[:6]}@example.com")
        page.check("#adult")
        page.click("#consent-form button[type=submit]")
        wall = f'{VK} select[name="owner_id"]'
        page.wait_for_selector(wall, timeout=15_000)
        offered = page.eval_on_selector_all(
            f"{wall} option", "(options) => options.map((o) => [o.value, o.textContent])"
        )
        # each community by its name as VK gave it, and its id (issue 10: not the id alone)
        assert offered == [["", "Own wall"], [str(-ours), f"Whale watchers ({ours})"]]
        assert page.input_value(wall) == ""  # the own wall unless the person picks one

        page.set_input_files("#video", str(VIDEO))
        page.fill(f'{VK} [name="message"]', "To the community")
        page.select_option(wall, str(-ours))
        when = (datetime.now(UTC) + timedelta(days=3)).astimezone()
        page.fill("#when", when.strftime("%Y-%m-%dT%H:%M"))
        for _ in range(30):  # the queue learns of the account a moment after the sign-in
            page.click("#queue-button")
            page.wait_for_selector("#queue-button:enabled", timeout=30_000)
            if page.text_content("#flash") == "Queued.":
                break
            page.wait_for_timeout(300)
        else:
            raise AssertionError(page.text_content("#post-errors"))
        created = page.evaluate(
            "async () => (await (await fetch('/api/v1/posts?limit=1')).json()).items[0]"
        )
        [target] = created["targets"]
        assert (target["options"]["owner_id"], target["options"]["message"]) == (
            -ours,
            "To the community",
        )
        assert page.input_value(wall) == ""  # after queueing: the own wall again

        # someone else's wall, typed into the API, is refused naming the field
        [account] = page.evaluate("async () => (await fetch('/api/v1/accounts')).json()")
        refused = page.evaluate(
            """async ([account, media]) => {
                const answer = await fetch('/api/v1/posts', {
                    method: 'POST', headers: {'Content-Type': 'application/json'},
                    body: JSON.stringify({media_id: media, targets: [
                        {account_id: account, vk: {owner_id: 100000002}}]}),
                });
                return [answer.status, await answer.json()];
            }""",
            [account["id"], created["media_id"]],
        )
        assert refused[0] == 422
        assert [e["field"] for e in refused[1]["errors"]] == ["targets[0].vk.owner_id"]

        # renamed on VK after sign-in: "Refresh names" reads the communities again
        httpx.post(
            f"{stack.sandbox}/sandbox/vk/communities",
            json={"id": ours, "admins": [ALICE], "name": "Whale and dolphin watchers"},
            timeout=10,
        ).raise_for_status()
        page.click('#accounts-body tr[data-platform="vk"] button[data-action="read-names"]')
        page.wait_for_selector(
            f'{wall} option:has-text("Whale and dolphin watchers ({ours})")',
            state="attached",
            timeout=15_000,
        )
        assert page.text_content("#flash") == "Names read again from the platform."
        page.click("#accounts-body button:has-text('Disconnect')")  # frees the sandbox person
        page.wait_for_selector("#flash.ok", timeout=15_000)
    finally:
        context.close()
