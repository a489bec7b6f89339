"""Browser: what the API says is shown in the page's language (issue 12 item 7).

Statuses, a failed target's code and the server's field errors reach both pages in
English; the Russian operator page and the Russian dashboard word each of them through
the catalogues (web/words.js), the server's text kept only for what they have no words
for. The sandbox's ``spam_risk`` fault makes TikTok refuse a post for good
(:func:`cachalot_testing.operators.failed_post`).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from cachalot_testing.media import video_file
from cachalot_testing.operators import failed_post
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

RUSSIAN = re.compile("[А-Яа-яЁё]")
VIDEO = video_file()
SPAM = "Аккаунт исчерпал дневной лимит публикаций. Попробуйте завтра."  # spam_risk_too_many_posts
CAPTCHA = (  # captcha_required (VK's error 14)
    "ВКонтакте просит этот аккаунт ввести капчу перед публикацией. Откройте ВКонтакте в "
    "браузере, сделайте одну запись вручную и нажмите «Повторить»."
)


def test_the_russian_operator_page_words_statuses_reasons_and_field_errors_from_the_api(
    stack: EmbeddedStack, sign_in: Any, serious_violations: Any
) -> None:
    with httpx.Client(timeout=30) as client:
        post_id = failed_post(client, stack.gateway, stack.sandbox, caption="в ошибке")
        client_id = client.get(f"{stack.gateway}/api/v1/me").json()["client_id"]
    errors: list[str] = []
    with sign_in.page(errors, locale="ru-RU", viewport={"width": 1280, "height": 900}) as page:
        sign_in.operator(page)
        row = f"#trouble-body tr[data-post='{post_id}']"
        page.wait_for_selector(row, timeout=15_000)
        errors.clear()  # the signed-out page's own 401 before the sign-in is expected
        assert page.text_content(f"{row} td >> nth=3") == "ошибка"
        assert page.text_content(f"{row} .reason") == SPAM

        client_row = f"#clients-body tr[data-client='{client_id}']"
        page.wait_for_selector(client_row, timeout=15_000)
        assert page.text_content(f"{client_row} td >> nth=2") == "tiktok (подключён)"
        assert page.text_content(f"{client_row} td >> nth=4") == "ошибка: 1"

        # a TikTok proposal without a privacy: the server names the field, the page words it
        # (the page's own check stops the proposal being written without one, so it is the
        # first of two: set aside with "Add another proposal", the second has a privacy)
        page.select_option("#deliver-client", client_id)
        page.set_input_files("#deliver-file", str(VIDEO))
        page.fill("#deliver-text", "без приватности")
        page.click("#deliver-another")
        page.wait_for_selector("#deliver-pending li")
        page.fill("#deliver-text", "с приватностью")
        page.select_option("#deliver-privacy", "SELF_ONLY")
        with page.expect_response(
            lambda r: r.url.endswith("/api/v1/operator/deliveries") and r.request.method == "POST"
        ) as sent:
            page.click("#deliver-send")
        assert sent.value.status == 422
        page.wait_for_selector("#flash.bad", timeout=15_000)
        flash = page.text_content("#flash") or ""
        label = page.text_content("label[for=deliver-privacy]") or ""
        assert flash == f"Передать не удалось. {label}: Обязательное поле.", flash
        assert serious_violations(page) == []
    assert [e for e in errors if "status of 422" not in e] == []  # the refused delivery's own


def queue_video(page: Any, account: str, block: dict[str, Any]) -> str:
    """The id of a video post to ``account`` with its platform's ``block``, queued by the
    page's own fetch (the queue may not have learned a just-connected account yet)."""
    post_id: str = page.evaluate(
        """async ([account, block, bytes]) => {
          const media = await (await fetch('/api/v1/media', { method: 'POST',
            headers: { 'content-type': 'video/mp4' },
            body: new Blob([new Uint8Array(bytes)], { type: 'video/mp4' }) })).json();
          for (let attempt = 0; attempt < 50; attempt++) {
            const res = await fetch('/api/v1/posts', { method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ media_id: media.id,
                targets: [{ account_id: account, ...block }] }) });
            if (res.status === 201) return (await res.json()).id;
            await new Promise((r) => setTimeout(r, 300));
          }
          throw new Error('the queue never took the post');
        }""",
        [account, block, list(VIDEO.read_bytes())],
    )
    return post_id


def test_the_russian_dashboard_words_a_failed_posts_status_and_reason(
    stack: EmbeddedStack, sign_in: Any, serious_violations: Any
) -> None:
    errors: list[str] = []
    with sign_in(("tiktok", None), email="words", console=errors, locale="ru-RU") as page:
        # the composer has read creator_info; the publisher's read is refused (spam_risk)
        page.wait_for_selector('#targets .target[data-platform="tiktok"] .tt-who strong')
        httpx.post(
            f"{stack.sandbox}/sandbox/tiktok/faults",
            json={"endpoint": "creator_info", "kind": "spam_risk"},
            timeout=5,
        ).raise_for_status()
        account = page.get_attribute('#accounts-body tr[data-platform="tiktok"]', "data-account")
        assert page.text_content('#accounts-body tr[data-platform="tiktok"] .status') == (
            "подключён"
        )
        post_id = queue_video(
            page, account, {"tiktok": {"caption": "слишком часто", "privacy_level": "SELF_ONLY"}}
        )
        row = f'#posts-body tr[data-post="{post_id}"]'
        page.wait_for_selector(f"{row} .status.failed", timeout=60_000)
        assert page.text_content(f"{row} .status") == "ошибка"
        page.wait_for_function(
            f"document.querySelector('{row} td:nth-child(5)').textContent.includes('лимит')",
            timeout=15_000,
        )
        assert page.text_content(f"{row} td >> nth=4") == f"TikTok: {SPAM}"
        # after a reload too (the list read from the API, not only the pushed event)
        page.reload()
        page.wait_for_selector(f"{row} .status.failed", timeout=15_000)
        assert page.text_content(f"{row} td >> nth=4") == f"TikTok: {SPAM}"
        assert serious_violations(page) == []
    assert errors == []


def test_the_russian_dashboard_words_a_vk_refusal_by_its_code_not_the_servers_english(
    stack: EmbeddedStack, sign_in: Any
) -> None:
    """VK's own codes (publisher-vk ``OWN_CODES``; Instagram's and Telegram's likewise) are
    worded by the catalogues: error 14 is ``captcha_required``, shown in Russian."""
    with sign_in(("vk", None), email="vk-words", locale="ru-RU") as page:
        account = page.get_attribute('#accounts-body tr[data-platform="vk"]', "data-account")
        httpx.post(
            f"{stack.sandbox}/sandbox/vk/faults",
            json={"method": "wall.post", "code": 14},
            timeout=10,
        ).raise_for_status()
        post_id = queue_video(page, account, {"vk": {"message": "капча"}})
        row = f'#posts-body tr[data-post="{post_id}"]'
        page.wait_for_selector(f"{row} .status.failed", timeout=60_000)
        page.wait_for_function(
            f"document.querySelector('{row} td:nth-child(5)').textContent.includes('капчу')",
            timeout=15_000,
        )
        assert page.text_content(f"{row} td >> nth=4") == f"VK: {CAPTCHA}"
