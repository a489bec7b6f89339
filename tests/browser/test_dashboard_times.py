"""Browser: a time is chosen in the page's language, with the client's zone named (issue 12
item 7). A browser's own date picker follows the browser's language and names no zone;
the composer's, the reschedule's and the proposal editor's times are day, month, year, hour
and minute fields in the page's words (web/when.js), here a Russian page in a browser whose
zone is Asia/Yekaterinburg (UTC+5), and what is chosen is the time the API stores.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

VIDEO = Path(__file__).parents[1] / "fixtures" / "sample.mp4"
ZONE = "Asia/Yekaterinburg"
TIKTOK = '#targets .target[data-platform="tiktok"]'


def choose_time(page: Any, scope: str, when: datetime) -> None:
    """Each part of ``when`` (a local time) chosen in the time fields inside ``scope``."""
    for part in ("day", "month", "year", "hour", "minute"):
        page.select_option(f"{scope} select[data-part={part}]", str(getattr(when, part)))


def shown_parts(page: Any, scope: str) -> list[str]:
    return list(
        page.eval_on_selector_all(
            f"{scope} .when-parts select", "ss => ss.map((s) => s.selectedOptions[0].textContent)"
        )
    )


def test_the_russian_composer_and_reschedule_take_a_time_in_russian_in_the_clients_zone(
    stack: EmbeddedStack, sign_in: Any, serious_violations: Any
) -> None:
    errors: list[str] = []
    with sign_in(
        ("tiktok", None), email="times", console=errors, locale="ru-RU", timezone_id=ZONE
    ) as page:
        group = "#post-form .when-parts"
        page.wait_for_selector(group)
        # the language's order (day, month, year), its month names, 24-hour clock, the zone
        parts = page.eval_on_selector_all(f"{group} select", "ss => ss.map((s) => s.dataset.part)")
        assert parts == ["day", "month", "year", "hour", "minute"]
        months = page.eval_on_selector_all(
            f"{group} select[data-part=month] option", "os => os.map((o) => o.textContent)"
        )
        assert len(months) == 13
        assert all(re.search("[а-я]", m) for m in months[1:]), months
        assert page.text_content(f"{group} select[data-part=hour] option[value='13']") == "13"
        assert ZONE in (page.text_content(f"{group} .when-zone") or "")
        label = page.get_attribute(group, "aria-labelledby")
        assert re.search("[а-я]", page.text_content(f"#{label}") or "")

        # a part left out is said before anything is uploaded
        page.wait_for_selector(f"{TIKTOK} .tt-who strong", timeout=15_000)
        page.set_input_files("#video", str(VIDEO))
        page.select_option(f'{TIKTOK} select[name="privacy_level"]', "SELF_ONLY")
        page.select_option(f"{group} select[data-part=day]", "3")
        page.click("#queue-button")
        error = '#post-form [data-field="scheduled_at"]'
        assert page.text_content(error) == "Выберите день, месяц, год, час и минуту."

        when = (datetime.now(ZoneInfo(ZONE)) + timedelta(days=2)).replace(
            hour=21, minute=5, second=0, microsecond=0
        )
        choose_time(page, group, when)
        sign_in.queue_composed(page, queued="В очереди.")
        post = page.evaluate(
            "async () => (await (await fetch('/api/v1/posts?limit=1')).json()).items[0]"
        )
        assert datetime.fromisoformat(post["scheduled_at"]) == when

        # the reschedule shows the time as chosen, and takes a new one the same way
        row = f'#posts-body tr[data-post="{post["id"]}"]'
        page.click(f"{row} button:has-text('Перенести')")
        form = f"{row} form.reschedule"
        shown = shown_parts(page, form)
        assert shown[0] == str(when.day)
        assert shown[2:] == [str(when.year), "21", "05"], shown
        assert page.evaluate("document.activeElement.dataset.part") == "day"
        assert serious_violations(page) == []
        later = when + timedelta(days=1, hours=-12)
        choose_time(page, form, later)
        page.click(f"{form} button[type=submit]")
        page.wait_for_selector(f"{form}.hidden", state="attached", timeout=15_000)
        moved = page.evaluate(
            "async (id) => (await (await fetch('/api/v1/posts/' + id)).json())", post["id"]
        )
        assert datetime.fromisoformat(moved["scheduled_at"]) == later
    assert errors == []
