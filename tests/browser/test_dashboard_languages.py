"""Browser: the dashboard and the contact page in English and Russian (issue 12, item 7).

A browser whose languages start with Russian (Playwright's ``locale``: both
``navigator.languages`` and the ``Accept-Language`` header) gets the pages in
Russian; a choice made on the page is kept over a reload; dates, numbers and the
calendar are in the language; the language goes to auth at consent and when
switched, so the client's e-mails follow it (``GET /api/v1/me`` ``language``).
Both languages pass axe, and a 390 px phone has no horizontal scroll in Russian.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from axe_playwright_python.sync_playwright import Axe

from cachalot_testing.media import ffmpeg_made, video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

VIDEO = video_file()
ZONE = "Europe/Moscow"
TIKTOK_USER = "sandbox-extra-langru"
YOUTUBE_USER = "sandbox-extra-langyt"
CONSOLE_ERRORS: list[str] = []
CYRILLIC = re.compile("[А-Яа-яЁё]")

QUEUE = """async ([bytes, targets, when]) => {
  const media = await (await fetch('/api/v1/media', {
    method: 'POST', headers: { 'content-type': 'video/mp4' },
    body: new Blob([new Uint8Array(bytes)], { type: 'video/mp4' }) })).json();
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await fetch('/api/v1/posts', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ media_id: media.id, targets, scheduled_at: when }) });
    if (res.status === 201) return await res.json();
    await new Promise((r) => setTimeout(r, 300));
  }
  return null;
}"""


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screens are kept: ``CACHALOT_SCREENSHOT_DIR``, else the run's temp dir."""
    chosen = os.environ.get("CACHALOT_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def serious_violations(page: Any) -> list[Any]:
    results = Axe().run(page)
    return [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def fits_and_passes_axe(page: Any, screenshots: Path, name: str) -> None:
    """Desktop and phone width: a screenshot each, axe clean, no horizontal scroll."""
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 844})
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshots / f"{name}-{width}.png"), full_page=True)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width, (name, width)
        serious = serious_violations(page)
        assert serious == [], (name, width, json.dumps(serious)[:2000])
    page.set_viewport_size({"width": 1280, "height": 900})


def me(page: Any) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate("async () => await (await fetch('/api/v1/me')).json()")
    return found


def test_the_contact_page_is_in_russian_for_a_browser_asking_for_russian(
    stack: EmbeddedStack, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(locale="ru-RU")
    page = context.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.headers.get("accept-language", "")))
    try:
        page.goto(f"{stack.gateway}/contact.html")
        page.wait_for_selector("#contact-form label[for=name]:text('Ваше имя')", timeout=10_000)
        assert sent[0].startswith("ru")
        assert page.get_attribute("html", "lang") == "ru"
        assert page.text_content("h1") == "Расскажите о вашем проекте"
        assert page.title() == "Связаться с CACHALOT"
        assert page.input_value("#language") == "ru"
        assert page.get_attribute("#contact", "placeholder") == "@username или +7 999 123-45-67"
        # the field errors the page words itself
        page.fill("#name", "Кто-то")
        page.fill("#contact", "nobody")
        page.fill("#message", "   ")
        page.click("#send")
        page.wait_for_selector("#result.bad", timeout=10_000)
        assert page.text_content("#result") == "Проверьте отмеченные поля."
        assert page.text_content('.field-error[data-field="contact"]') == (
            "Укажите имя в Telegram (@имя) или телефон с кодом страны."
        )
        assert page.text_content('.field-error[data-field="message"]') == "Напишите сообщение."
        fits_and_passes_axe(page, screenshots, "contact-ru")
    finally:
        context.close()


def test_the_contact_page_stays_english_for_an_english_browser_and_passes_axe(
    stack: EmbeddedStack, browser: Any, screenshots: Path
) -> None:
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    try:
        page.goto(f"{stack.gateway}/contact.html")
        page.wait_for_selector("#language", timeout=10_000)
        page.wait_for_function("document.documentElement.lang === 'en'")
        assert page.text_content("h1") == "Tell us about your project"
        fits_and_passes_axe(page, screenshots, "contact-en")
    finally:
        context.close()


def test_switching_from_english_to_russian_is_kept_after_a_reload(
    stack: EmbeddedStack, browser: Any
) -> None:
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    try:
        page.goto(f"{stack.gateway}/")
        page.wait_for_selector('#signin-buttons a[data-platform="tiktok"]', timeout=10_000)
        assert page.text_content("#signin h2") == "Sign in"
        assert (
            page.text_content('#signin-buttons a[data-platform="tiktok"]') == "Sign in with TikTok"
        )
        with page.expect_navigation():
            page.select_option("#language", "ru")
        page.wait_for_selector('#signin-buttons a[data-platform="tiktok"]', timeout=10_000)
        assert page.text_content("#signin h2") == "Вход"
        assert (
            page.text_content('#signin-buttons a[data-platform="tiktok"]') == "Войти через TikTok"
        )
        page.reload()
        page.wait_for_selector('#signin-buttons a[data-platform="tiktok"]', timeout=10_000)
        assert page.get_attribute("html", "lang") == "ru"
        assert page.text_content("#signin h2") == "Вход"
        assert page.evaluate("localStorage.getItem('cachalot.language')") == "ru"
        # the contact page follows the same choice, in spite of the English browser
        page.goto(f"{stack.gateway}/contact.html")
        page.wait_for_function("document.documentElement.lang === 'ru'")
        page.wait_for_selector("h1:text('Расскажите о вашем проекте')", timeout=10_000)
    finally:
        context.close()


@pytest.fixture(scope="module")
def russian(sign_in: Any) -> Iterator[dict[str, Any]]:
    """A Russian browser in Moscow: TikTok and YouTube connected, consented, one post queued."""
    consent_heading: list[str | None] = []
    with sign_in(
        ("tiktok", TIKTOK_USER),
        ("youtube", YOUTUBE_USER),
        email="lang",
        console=CONSOLE_ERRORS,
        before_consent=lambda page: consent_heading.append(page.text_content("#consent h2")),
        locale="ru-RU",
        timezone_id=ZONE,
        viewport={"width": 1280, "height": 900},
    ) as page:
        assert consent_heading == ["Прежде чем начать"]
        accounts = page.evaluate("async () => await (await fetch('/api/v1/accounts')).json()")
        tiktok = next(a["id"] for a in accounts if a["platform"] == "tiktok")
        youtube = next(a["id"] for a in accounts if a["platform"] == "youtube")
        page.wait_for_selector(
            f'#targets .target[data-account="{tiktok}"] .tt-who strong', timeout=15_000
        )
        page.wait_for_selector(
            f'#targets .target[data-account="{youtube}"] fieldset.block', timeout=15_000
        )
        when = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=40)).replace(
            hour=14, minute=30, second=0, microsecond=0
        )
        post = page.evaluate(
            QUEUE,
            [
                list(VIDEO.read_bytes()),
                [
                    {
                        "account_id": tiktok,
                        "tiktok": {"caption": "по-русски", "privacy_level": "SELF_ONLY"},
                    }
                ],
                when.isoformat(),
            ],
        )
        assert post is not None, "the queue never took the post"
        page.reload()
        page.wait_for_selector(f'#posts-body tr[data-post="{post["id"]}"]', timeout=15_000)
        yield {"page": page, "post": post, "when": when, "tiktok": tiktok, "youtube": youtube}


def test_a_russian_browser_gets_the_dashboard_in_russian_and_its_language_is_sent_at_consent(
    russian: dict[str, Any],
) -> None:
    page = russian["page"]
    assert page.get_attribute("html", "lang") == "ru"
    assert page.text_content("#compose h2") == "Новая публикация"
    assert page.text_content("#posts h2") == "Ваши публикации"
    assert page.text_content("#logout") == "Выйти"
    assert page.text_content("#posts-body tr .status.scheduled") == "запланировано"
    tiktok = f'#targets .target[data-account="{russian["tiktok"]}"]'
    assert "Публикация в TikTok от имени" in (page.text_content(f"{tiktok} .tt-who") or "")
    youtube = f'#targets .target[data-account="{russian["youtube"]}"]'
    assert "Это видео для детей?" in (page.text_content(f"{youtube} .yt-kids legend") or "")
    assert me(page)["language"] == "ru"  # the e-mails will be in Russian


def test_dates_are_formatted_the_russian_way_in_the_clients_named_time_zone(
    russian: dict[str, Any],
) -> None:
    page, post, when = russian["page"], russian["post"], russian["when"]
    shown = page.text_content(f'#posts-body tr[data-post="{post["id"]}"] .when') or ""
    months = ("янв.", "февр.", "мар.", "апр.", "мая", "июн.")
    months += ("июл.", "авг.", "сент.", "окт.", "нояб.", "дек.")
    # Intl's ru medium date: "10 янв. 2027 г., 14:30" (genitive month, year "г.", 24-hour)
    assert shown == f"{when.day} {months[when.month - 1]} {when.year} г., 14:30", shown
    assert page.text_content("#posts-zone") == f"Время указано в вашем часовом поясе: {ZONE}."
    listed = page.text_content(f'#schedule-list li[data-post="{post["id"]}"] time') or ""
    assert CYRILLIC.search(listed), listed
    assert "14:30" in listed
    assert f"({ZONE})" in listed


def test_the_calendar_speaks_russian_with_its_own_locale(russian: dict[str, Any]) -> None:
    page = russian["page"]
    page.wait_for_selector("#calendar .fc-today-button", timeout=15_000)
    assert page.text_content("#calendar .fc-today-button") == "Сегодня"
    assert page.text_content("#calendar .fc-dayGridMonth-button") == "Месяц"
    title = page.text_content("#calendar .fc-toolbar-title") or ""
    assert CYRILLIC.search(title), title  # e.g. "декабрь 2026 г."
    first_day = page.text_content("#calendar .fc-col-header-cell:first-child") or ""
    assert first_day.strip().lower().startswith("пн"), first_day  # the week starts on Monday


def test_field_errors_the_dashboard_words_itself_are_in_russian(russian: dict[str, Any]) -> None:
    page = russian["page"]
    page.check('input[name="kind"][value="video"]')
    page.click("#queue-button")
    error = page.text_content('#post-form .field-error[data-field="media_id"]')
    assert error == "Сначала выберите видео."
    youtube = f'#targets .target[data-account="{russian["youtube"]}"]'
    if page.is_checked(f'{youtube} input[name="target"]'):
        said = page.text_content(f'{youtube} [data-error="made_for_kids"]') or ""
        assert said == "Укажите, снято ли видео для детей: YouTube требует ответа."


def test_a_file_the_queue_cannot_use_is_refused_in_russian_words_not_the_servers_english(
    russian: dict[str, Any],
) -> None:
    """fresh11: an audio-only MP4's refusal reached the Russian page as the server's English
    ("the file has no video stream…"); the page words it by the refusal's code."""
    page = russian["page"]
    sound = ffmpeg_made(".mp4", "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:a", "aac")
    said = page.evaluate(
        """async (bytes) => {
          const res = await fetch("/api/v1/media", {
            method: "POST", headers: {"Content-Type": "video/mp4"}, body: new Uint8Array(bytes),
          });
          return [res.status, window.CachalotWords.problem(await res.json(), "")];
        }""",
        list(sound.read_bytes()),
    )
    assert said == [422, "В файле нет изображения: файл только со звуком — не видео."]


def test_the_russian_dashboard_passes_axe_and_fits_a_phone_without_console_errors(
    russian: dict[str, Any], screenshots: Path
) -> None:
    page = russian["page"]
    CONSOLE_ERRORS.clear()
    page.reload()
    page.wait_for_selector(f'#posts-body tr[data-post="{russian["post"]["id"]}"]', timeout=15_000)
    page.wait_for_selector("#schedule-list li", timeout=15_000)
    page.wait_for_timeout(1500)
    assert CONSOLE_ERRORS == []
    fits_and_passes_axe(page, screenshots, "dashboard-ru")


def test_switching_to_english_while_signed_in_tells_auth_so_e_mails_follow(
    russian: dict[str, Any], screenshots: Path
) -> None:
    page = russian["page"]
    with page.expect_navigation():
        page.select_option("#language", "en")
    page.wait_for_selector("#compose:not(.hidden)", timeout=15_000)
    assert page.text_content("#compose h2") == "New post"
    assert me(page)["language"] == "en"
    fits_and_passes_axe(page, screenshots, "dashboard-en")
    with page.expect_navigation():
        page.select_option("#language", "ru")
    page.wait_for_selector("#compose:not(.hidden)", timeout=15_000)
    assert me(page)["language"] == "ru"


def test_a_browser_with_no_saved_choice_takes_the_language_saved_on_the_account(
    russian: dict[str, Any], stack: EmbeddedStack, sign_in: Any
) -> None:
    """The client (Russian on its account, as its e-mails) signs in on an English browser
    where no language was chosen: after sign-in the dashboard and the other pages are
    in Russian. A browser where English was chosen stays English."""
    assert me(russian["page"])["language"] == "ru"
    context = russian["page"].context.browser.new_context(locale="en-US")
    try:
        page = context.new_page()
        sign_in.connect(page, "tiktok", TIKTOK_USER)
        page.wait_for_function("document.documentElement.lang === 'ru'", timeout=15_000)
        page.wait_for_selector("#compose:not(.hidden)", timeout=15_000)
        assert page.text_content("#compose h2") == "Новая публикация"
        assert page.evaluate("localStorage.getItem('cachalot.language')") is None  # not chosen
        page.goto(f"{stack.gateway}/privacy.html")
        page.wait_for_selector("#retention[data-days]", timeout=10_000)
        assert page.text_content("h1") == "Что мы обещаем о ваших данных"
        assert me(page)["language"] == "ru"  # nothing was sent back
    finally:
        context.close()
    chosen = russian["page"].context.browser.new_context(locale="en-US")
    try:
        page = chosen.new_page()
        page.add_init_script("localStorage.setItem('cachalot.language', 'en')")
        sign_in.connect(page, "tiktok", TIKTOK_USER)
        page.wait_for_selector("#compose:not(.hidden)", timeout=15_000)
        page.wait_for_timeout(1000)  # a reload into the account's language would come now
        assert page.get_attribute("html", "lang") == "en"
        assert page.text_content("#compose h2") == "New post"
    finally:
        chosen.close()
