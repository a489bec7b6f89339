"""Browser: the composer per account (TikTok's Direct Post rules, YouTube's fields,
counters, checks before upload, preview) and the schedule (list, week and month
calendar, drag and keyboard reschedule, edit, "edit and queue again"), issue 12.

One client with two TikTok accounts and a YouTube channel (the sandbox's
on-demand people, so other modules still meet Alice and Bob as newcomers) is
signed in once for the module; the sandbox's TikTok creator offers
follower/friends/only-me privacy and has duets turned off. The last fixture
step disconnects everything and puts the creator back as it was.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe

from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

VIDEO = video_file()
TIKTOK_A = "sandbox-extra-composea"
TIKTOK_B = "sandbox-extra-composeb"
YOUTUBE_USER = "sandbox-extra-composeyt"
ZONE = "Asia/Tokyo"
CREATOR = {
    "privacy_level_options": ["FOLLOWER_OF_CREATOR", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
    "duet_disabled": True,
    "comment_disabled": False,
    "stitch_disabled": False,
}
DEFAULT_CREATOR = {
    "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
    "duet_disabled": False,
    "comment_disabled": False,
    "stitch_disabled": False,
    "max_video_post_duration_sec": 600,
}
CONSOLE_ERRORS: list[str] = []


def row(account_id: str) -> str:
    return f'#targets .target[data-account="{account_id}"]'


def accounts(page: Any) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = page.evaluate(
        "async () => await (await fetch('/api/v1/accounts')).json()"
    )
    return listed


def post_of(page: Any, post_id: str) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate(
        "async (id) => await (await fetch('/api/v1/posts/' + id)).json()", post_id
    )
    return found


QUEUE = """async ([targets, when]) => {
  const media = await (await fetch('/api/v1/media', {
    method: 'POST', headers: { 'content-type': 'video/mp4' },
    body: await (await fetch(window.__video)).blob() })).json();
  let last = '';
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await fetch('/api/v1/posts', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ media_id: media.id, targets, scheduled_at: when }) });
    if (res.status === 201) return (await res.json()).id;
    last = `${res.status} ${await res.text()}`;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the queue never took the post: ${last}`);
}"""


def queue_by_api(page: Any, targets: list[dict[str, Any]], when: datetime | None) -> str:
    """A post made through the API (the queue learns accounts from accounts.v1: retried)."""
    page.evaluate(
        "async (bytes) => { window.__video = window.__video || URL.createObjectURL("
        "new Blob([new Uint8Array(bytes)], { type: 'video/mp4' })); }",
        list(VIDEO.read_bytes()),
    )
    post_id: str = page.evaluate(QUEUE, [targets, when.isoformat() if when else None])
    return post_id


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screens are kept: ``CACHALOT_SCREENSHOT_DIR``, else the run's temp dir."""
    chosen = os.environ.get("CACHALOT_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def composer(stack: EmbeddedStack, sign_in: Any) -> Iterator[dict[str, Any]]:
    """The page, signed in with two TikTok accounts and a YouTube channel, consented."""
    httpx.post(
        f"{stack.sandbox}/sandbox/tiktok/creator", json=CREATOR, timeout=5
    ).raise_for_status()
    try:
        with sign_in(
            ("tiktok", TIKTOK_A),
            ("tiktok", TIKTOK_B),
            ("youtube", YOUTUBE_USER),
            email="compose",
            console=CONSOLE_ERRORS,
            timezone_id=ZONE,
            viewport={"width": 1280, "height": 900},
        ) as page:
            listed = accounts(page)
            tiktoks = [a["id"] for a in listed if a["platform"] == "tiktok"]
            youtube = next(a["id"] for a in listed if a["platform"] == "youtube")
            assert len(tiktoks) == 2, listed
            page.wait_for_selector(f"{row(youtube)} fieldset.block", timeout=15_000)
            for account in tiktoks:
                page.wait_for_selector(f"{row(account)} .tt-who strong", timeout=15_000)
            yield {"page": page, "tiktok": tiktoks, "youtube": youtube, "stack": stack}
    finally:
        httpx.post(
            f"{stack.sandbox}/sandbox/tiktok/creator", json=DEFAULT_CREATOR, timeout=5
        ).raise_for_status()


def test_tiktok_shows_the_creator_and_its_privacy_options_read_live_with_none_chosen(
    composer: dict[str, Any],
) -> None:
    page = composer["page"]
    for account in composer["tiktok"]:
        box = row(account)
        assert "Posting to TikTok as Sandbox" in page.text_content(f"{box} .tt-who")
        privacy = f'{box} select[name="privacy_level"]'
        assert page.input_value(privacy) == ""  # no default: the person chooses
        offered = page.eval_on_selector_all(
            f"{privacy} option", "options => options.map((o) => [o.value, o.textContent])"
        )
        assert offered == [
            ["", "Choose who can see this post"],
            ["FOLLOWER_OF_CREATOR", "Followers"],
            ["MUTUAL_FOLLOW_FRIENDS", "Friends (followers you follow back)"],
            ["SELF_ONLY", "Only me"],
        ]
        switches = page.eval_on_selector_all(
            f"{box} .tt-allow input", "boxes => boxes.map((b) => [b.checked, b.disabled])"
        )
        # comment, duet, stitch: all off; duet greyed, as the creator turned it off
        assert switches == [[False, False], [False, True], [False, False]]
        assert "turned off in this account's TikTok settings" in page.text_content(
            f"{box} .tt-allow"
        )
        consent = page.text_content(f"{box} .tt-consent")
        assert consent == "By posting, you agree to TikTok's Music Usage Confirmation."
        assert page.is_checked(f"{box} .tt-disclosure input") is False


def test_commercial_content_needs_a_choice_shows_its_label_and_is_never_private(
    composer: dict[str, Any],
) -> None:
    page = composer["page"]
    box = row(composer["tiktok"][0])
    disclose, own, branded = (f"{box} .tt-disclosure input >> nth={i}" for i in range(3))
    page.select_option(f'{box} select[name="privacy_level"]', "SELF_ONLY")
    page.check(disclose)
    assert page.is_visible(own)
    assert page.is_visible(branded)
    page.check(own)
    assert page.text_content(f"{box} .tt-label") == (
        'Your video will be labeled "Promotional content".'
    )
    page.check(branded)
    assert page.text_content(f"{box} .tt-label") == 'Your video will be labeled "Paid partnership".'
    assert page.input_value(f'{box} select[name="privacy_level"]') == ""  # was "Only me"
    assert page.is_disabled(f'{box} select[name="privacy_level"] option[value="SELF_ONLY"]')
    assert "Branded Content Policy" in page.text_content(f"{box} .tt-consent")
    assert page.text_content(f"{box} .preview .chip") == "Paid partnership"
    page.uncheck(own)
    page.uncheck(branded)
    uploads: list[str] = []
    page.on(
        "request",
        lambda r: (
            uploads.append(r.url) if "/api/v1/media" in r.url and r.method == "POST" else None
        ),
    )
    page.set_input_files("#video", str(VIDEO))
    page.click("#queue-button")
    error = f'{box} [data-error="disclosure"]'
    page.wait_for_selector(f"{error}:not(:empty)")
    assert "your own brand" in page.text_content(error)
    assert "Choose who can see this post." in page.text_content(
        f'{box} [data-error="privacy_level"]'
    )
    assert uploads == []
    page.uncheck(disclose)
    assert page.is_hidden(own)
    assert page.text_content(f"{box} .tt-consent") == (
        "By posting, you agree to TikTok's Music Usage Confirmation."
    )


def test_tiktoks_choices_are_made_with_the_keyboard_alone(composer: dict[str, Any]) -> None:
    page = composer["page"]
    box = row(composer["tiktok"][1])
    privacy = f'{box} select[name="privacy_level"]'
    page.focus(privacy)
    page.keyboard.press("ArrowDown")  # the first offered audience, chosen by the person
    assert page.input_value(privacy) == "FOLLOWER_OF_CREATOR"
    page.focus(f"{box} .tt-allow input >> nth=0")
    page.keyboard.press("Space")
    assert page.is_checked(f"{box} .tt-allow input >> nth=0")
    page.keyboard.press("Tab")  # duet is greyed: the keyboard goes past it
    assert (
        page.evaluate("document.activeElement.parentElement.textContent")
        .strip()
        .startswith("Stitch")
    )
    page.focus(f"{box} .tt-disclosure input >> nth=0")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # "Your brand"
    assert page.text_content(f"{box} .tt-label") == (
        'Your video will be labeled "Promotional content".'
    )
    for selector in (
        f"{box} .tt-disclosure input >> nth=1",
        f"{box} .tt-disclosure input >> nth=0",
    ):
        page.uncheck(selector)
    page.uncheck(f"{box} .tt-allow input >> nth=0")
    page.select_option(privacy, "")


def test_counters_count_as_each_platform_does(composer: dict[str, Any]) -> None:
    page = composer["page"]
    tiktok = row(composer["tiktok"][0])
    youtube = row(composer["youtube"])
    page.fill(f'{tiktok} [name="caption"]', "ok 😀 #one #two")
    counter = page.text_content(f'{tiktok} [data-count="caption"]')
    # the emoji is two UTF-16 units; counts ungrouped, as the refusals write them (I18N.count)
    assert counter.startswith("15 of 2200 characters")
    assert "2 hashtags" in counter
    page.fill(f'{tiktok} [name="caption"]', "ok #one")
    counter = page.text_content(f'{tiktok} [data-count="caption"]')
    assert "1 hashtag" in counter  # one, not "1 hashtags" (fresh12k)
    assert "1 hashtags" not in counter
    page.fill(f'{youtube} [name="description"]', "café")
    assert page.text_content(f'{youtube} [data-count="description"]').startswith("5 of 5000 bytes")
    page.fill(f'{youtube} [name="tags"]', "a b, c")
    assert page.text_content(f'{youtube} [data-count="tags"]').startswith("7 of 500 characters")
    page.fill(f'{youtube} [name="title"]', "x" * 101)
    title = page.text_content(f'{youtube} [data-count="title"]')
    assert title == "101 of 100 characters — 1 too many"
    assert page.eval_on_selector(
        f'{youtube} [data-count="title"]', "c => c.classList.contains('over')"
    )


def test_every_limit_is_checked_before_any_upload_and_said_at_its_field_in_plain_words(
    composer: dict[str, Any],
) -> None:
    page = composer["page"]
    tiktok = row(composer["tiktok"][0])
    youtube = row(composer["youtube"])
    uploads: list[str] = []
    page.on(
        "request",
        lambda r: (
            uploads.append(r.url) if "/api/v1/media" in r.url and r.method == "POST" else None
        ),
    )
    page.set_input_files("#video", str(VIDEO))
    page.fill(f'{tiktok} [name="caption"]', "😀" * 1101)  # 2202 UTF-16 units
    page.fill(f'{youtube} [name="title"]', "")
    page.fill(f'{youtube} [name="description"]', "")
    page.click("#queue-button")
    # every error at once (issue 12: the caption's came only after the privacy was chosen
    # and the title written: the schema's errors stopped the server's rules)
    page.wait_for_selector(f'{tiktok} [data-error="caption"]:not(:empty)')
    said = {
        "privacy": page.text_content(f'{tiktok} [data-error="privacy_level"]'),
        "title": page.text_content(f'{youtube} [data-error="title"]'),
        "kids": page.text_content(f'{youtube} [data-error="made_for_kids"]'),
        "caption": page.text_content(f'{tiktok} [data-error="caption"]'),
    }
    # and the first of them, in the page's order, has the focus: its field
    focused = page.evaluate(
        """() => {
          const first = document.querySelector('#post-form .field-error:not(:empty)');
          const here = document.activeElement;
          const where = (el) => el.closest('.target') && el.closest('.target').dataset.account;
          const same = where(first) === where(here);
          return { error: first.dataset.error, field: here.name, same };
        }"""
    )
    assert focused["same"], focused
    assert focused["field"] == focused["error"], focused
    assert "2200" in said["caption"]
    assert "2202" in said["caption"]
    assert said["privacy"] == "Choose who can see this post."
    assert said["title"]
    assert "made for kids" in said["kids"]
    for words in said.values():
        assert "Value error" not in words
        assert "UTF-16" not in words
    page.wait_for_selector("#queue-button:enabled")
    assert uploads == []
    for account in composer["tiktok"]:  # the form as the next tests expect it
        page.select_option(f'{row(account)} [name="privacy_level"]', "SELF_ONLY")
    page.check(f"{youtube} .yt-kids input[value=no]")
    page.fill(f'{youtube} [name="title"]', "A title")


def test_two_tiktok_accounts_and_youtube_each_get_their_own_fields_in_the_post(
    composer: dict[str, Any], screenshots: Path
) -> None:
    page = composer["page"]
    first, second = (row(a) for a in composer["tiktok"])
    youtube = row(composer["youtube"])
    page.set_input_files("#video", str(VIDEO))
    page.fill(f'{first} [name="caption"]', "First account #one")
    page.fill(f'{second} [name="caption"]', "Second account")
    page.select_option(f'{first} [name="privacy_level"]', "FOLLOWER_OF_CREATOR")
    page.select_option(f'{second} [name="privacy_level"]', "SELF_ONLY")
    page.check(f"{first} .tt-allow input >> nth=0")  # comments allowed on the first only
    page.fill(f'{youtube} [name="title"]', "A title")
    page.fill(f'{youtube} [name="description"]', "A description")
    page.fill(f'{youtube} [name="tags"]', "one, two words")
    page.select_option(f'{youtube} [name="category_id"]', "27")
    page.check(f"{youtube} .yt-kids input[value=no]")
    assert "First account" in page.text_content(f"{first} .preview .text")
    assert page.text_content(f"{first} .preview .tag") == "#one"
    assert "Second account" in page.text_content(f"{second} .preview .text")
    assert page.text_content(f"{youtube} .preview .title") == "A title"
    page.screenshot(path=str(screenshots / "composer-1280.png"), full_page=True)
    when = (datetime.now(UTC) + timedelta(days=3)).astimezone()
    page.fill("#when", when.strftime("%Y-%m-%dT%H:%M"))
    for _ in range(30):
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
    options = {t["account_id"]: t["options"] for t in created["targets"]}
    a, b = (options[account] for account in composer["tiktok"])
    assert (a["caption"], a["privacy_level"], a["disable_comment"]) == (
        "First account #one",
        "FOLLOWER_OF_CREATOR",
        False,
    )
    assert (b["caption"], b["privacy_level"], b["disable_comment"]) == (
        "Second account",
        "SELF_ONLY",
        True,
    )
    assert a["disable_duet"] is True
    assert a["brand_content_toggle"] is False
    yt = options[composer["youtube"]]
    assert (yt["title"], yt["tags"], yt["category_id"], yt["made_for_kids"]) == (
        "A title",
        ["one", "two words"],
        "27",
        False,
    )
    composer["queued"] = created["id"]
    # after queueing: nothing preselected again, the disclosure off
    assert page.input_value(f'{first} [name="privacy_level"]') == ""
    assert not page.is_checked(f"{youtube} .yt-kids input[value=no]")


def test_a_next_attempt_the_page_refuses_leaves_no_earlier_queued_notice(
    composer: dict[str, Any],
) -> None:
    """fresh10e: after "Queued.", a next post the page's own checks refused (no video
    chosen here) showed its refusals beside the green "Queued." still on screen."""
    page = composer["page"]
    assert page.text_content("#flash") == "Queued."  # the post queued just before
    page.click("#queue-button")
    page.wait_for_selector("#queue-button:enabled", timeout=30_000)
    said = "[...document.querySelectorAll('#post-form .field-error')].some(e => e.textContent)"
    assert page.evaluate(f"() => {said}"), "the page refused it"
    assert not page.is_visible("#flash"), page.text_content("#flash")


def test_the_schedule_lists_every_post_soonest_first_in_the_named_time_zone(
    composer: dict[str, Any],
) -> None:
    page = composer["page"]
    youtube = composer["youtube"]
    later = datetime.now(UTC) + timedelta(days=5)
    sooner = datetime.now(UTC) + timedelta(days=1, hours=1)
    late_id = queue_by_api(
        page, [{"account_id": youtube, "youtube": {"title": "Later one"}}], later
    )
    soon_id = queue_by_api(
        page, [{"account_id": youtube, "youtube": {"title": "Sooner one"}}], sooner
    )
    composer["soon"] = soon_id
    page.click("#schedule-reload")
    page.wait_for_selector(f'#schedule-list li[data-post="{late_id}"]')
    page.wait_for_selector(f'#schedule-list li[data-post="{soon_id}"]')
    order = page.eval_on_selector_all(
        "#schedule-list > li", "items => items.map((i) => i.dataset.post)"
    )
    assert order.index(soon_id) < order.index(late_id)
    assert page.text_content("#schedule-zone") == f"Times are in your time zone, {ZONE}."
    item = f'#schedule-list li[data-post="{soon_id}"]'
    assert page.text_content(f"{item} .text") == "Sooner one"
    assert f"({ZONE})" in page.text_content(f"{item} .when")
    assert "YouTube · " in page.text_content(f"{item} .account")
    assert page.is_visible(f"{item} .thumb")


def _month_event(page: Any, post_id: str) -> str:
    """The post's event on the month calendar, the schedule read again first."""
    page.click("#schedule-reload")
    page.wait_for_selector(f'#schedule-list li[data-post="{post_id}"]', timeout=15_000)
    page.click("#calendar .fc-dayGridMonth-button")
    if page.is_enabled("#calendar .fc-today-button"):
        page.click("#calendar .fc-today-button")
    return _event(page, post_id)


def _event(page: Any, post_id: str) -> str:
    """The post's event on the calendar, paging forward until it is shown."""
    selector = f'#calendar .fc-event[data-post="{post_id}"]'
    for _ in range(3):
        if page.locator(selector).count():
            return selector
        page.click("#calendar .fc-next-button")
    raise AssertionError("the post is not on the calendar")


def test_a_post_is_moved_to_another_day_by_dragging_it_on_the_month_calendar(
    composer: dict[str, Any], screenshots: Path
) -> None:
    page = composer["page"]
    post_id = composer["soon"]
    page.click("#calendar .fc-dayGridMonth-button")
    event = _event(page, post_id)
    before = datetime.fromisoformat(post_of(page, post_id)["scheduled_at"])
    local = before.astimezone(ZoneInfo(ZONE))
    target_day = (local + timedelta(days=1)).date().isoformat()
    cell = f'#calendar td.fc-day[data-date="{target_day}"]'
    if not page.locator(cell).count():
        pytest.skip("the next day is in another month's grid")
    page.screenshot(path=str(screenshots / "schedule-month-1280.png"), full_page=True)
    # the posts table above has taken the post in (its refresh would move the calendar)
    page.wait_for_selector(f'#posts-body tr[data-post="{post_id}"]', timeout=10_000)
    page.locator(cell).scroll_into_view_if_needed()
    source = page.locator(event).bounding_box()
    goal = page.locator(cell).bounding_box()
    assert source is not None
    assert goal is not None
    page.mouse.move(source["x"] + 5, source["y"] + source["height"] / 2)
    page.mouse.down()
    page.mouse.move(source["x"] + 20, source["y"] + source["height"] / 2, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2, steps=15)
    page.mouse.up()
    page.wait_for_selector("#schedule-status:not(.hidden)", timeout=10_000)
    assert "Moved to" in page.text_content("#schedule-status")
    after = datetime.fromisoformat(post_of(page, post_id)["scheduled_at"])
    # the same time of day, one day later (the calendar keeps whole seconds)
    assert after - before.replace(microsecond=0) == timedelta(days=1), (before, after)


def test_a_post_is_rescheduled_with_the_keyboard_alone(composer: dict[str, Any]) -> None:
    page = composer["page"]
    post_id = composer["soon"]
    item = f'#schedule-list li[data-post="{post_id}"]'
    page.focus(f"{item} button:has-text('Change time')")
    page.keyboard.press("Enter")
    # the time's parts in the page's language (web/when.js), each chosen by typing its words
    new_time = (datetime.now() + timedelta(days=4)).replace(hour=9, minute=30)
    parts = page.eval_on_selector_all(
        f"{item} .when-parts select", "ss => ss.map((s) => s.dataset.part)"
    )
    assert page.evaluate("document.activeElement.dataset.part") == parts[0]
    wanted = {
        "day": new_time.day,
        "month": new_time.month,
        "year": new_time.year,
        "hour": 9,
        "minute": 30,
    }
    for part in parts:
        words = page.text_content(f"{item} select[data-part={part}] option[value='{wanted[part]}']")
        page.keyboard.type(words or "")
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit"  # Save time
    page.keyboard.press("Enter")
    page.wait_for_function(
        f"document.querySelector('{item} .when').textContent.includes('9:30')", timeout=10_000
    )
    moved = datetime.fromisoformat(post_of(page, post_id)["scheduled_at"])
    assert moved.astimezone(ZoneInfo(ZONE)).strftime("%H:%M") == "09:30"


def test_the_week_calendar_shows_the_post_at_its_time(
    composer: dict[str, Any], screenshots: Path
) -> None:
    page = composer["page"]
    page.click("#calendar .fc-timeGridWeek-button")
    if page.is_enabled("#calendar .fc-today-button"):
        page.click("#calendar .fc-today-button")
    event = _event(page, composer["soon"])
    assert "09:30" in page.text_content(event)
    page.screenshot(path=str(screenshots / "schedule-week-1280.png"), full_page=True)
    page.click("#calendar .fc-dayGridMonth-button")


def test_the_calendar_names_only_the_accounts_a_post_will_still_go_to(
    composer: dict[str, Any],
) -> None:
    """web12g (fresh try): the event still read "TikTok, TikTok, YouTube: …" after one
    TikTok target was cancelled; what was cancelled will not publish and is left out."""
    page = composer["page"]
    first, second = composer["tiktok"]
    targets = [
        # (the sandbox's TikTok accounts turned duets off in the app: said here too)
        {"account_id": first, "tiktok": {"privacy_level": "SELF_ONLY", "disable_duet": True}},
        {"account_id": second, "tiktok": {"privacy_level": "SELF_ONLY", "disable_duet": True}},
        {"account_id": composer["youtube"], "youtube": {"title": "Two of three"}},
    ]
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=3)
    post_id = queue_by_api(page, targets, at)
    cancelled = next(t["id"] for t in post_of(page, post_id)["targets"] if t["account_id"] == first)
    status = page.evaluate(
        "async ([post, target]) => (await fetch(`/api/v1/posts/${post}/targets/${target}/cancel`,"
        " { method: 'POST' })).status",
        [post_id, cancelled],
    )
    assert status == 200
    event = _month_event(page, post_id)
    assert page.text_content(f"{event} .fc-event-title") == "TikTok, YouTube: Two of three"


def test_month_times_stay_on_one_line_and_list_days_keep_their_space_at_phone_width(
    composer: dict[str, Any], screenshots: Path
) -> None:
    """Issue 12: the page's table rules reached the calendar's own tables. Cells that break
    words anywhere let a long title squeeze its time into "09:" over "30" in the month
    view; at 390 px every row and cell a block glued the list's day header into
    "MondayDecember 2, 2026"."""
    page = composer["page"]
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2, hours=2)
    long_title = "A title long enough to fill the whole width of its day in the month"
    post_id = queue_by_api(
        page, [{"account_id": composer["youtube"], "youtube": {"title": long_title}}], at
    )
    try:
        event = _month_event(page, post_id)
        lines = page.eval_on_selector_all(
            "#calendar .fc-daygrid .fc-event-time",
            """times => times.map((time) => {
              const range = document.createRange();
              range.selectNodeContents(time);
              const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
              return [time.textContent, tops.size];
            })""",
        )
        assert page.locator(f"{event} .fc-event-time").count()
        assert all(count == 1 for _, count in lines), lines
        page.screenshot(path=str(screenshots / "schedule-month-long-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.click("#calendar .fc-listWeek-button")
        if page.is_enabled("#calendar .fc-today-button"):
            page.click("#calendar .fc-today-button")
        _event(page, post_id)
        gaps = page.eval_on_selector_all(
            "#calendar .fc-list-day-cushion",
            """days => days.map((day) => {
              const text = day.querySelector('.fc-list-day-text').getBoundingClientRect();
              const side = day.querySelector('.fc-list-day-side-text').getBoundingClientRect();
              return side.top >= text.bottom - 1 ? 99 : side.left - text.right;
            })""",
        )
        assert gaps, "no day in the list"
        assert all(gap >= 8 for gap in gaps), gaps
        page.screenshot(path=str(screenshots / "schedule-list-390.png"), full_page=True)
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
        page.click("#calendar .fc-dayGridMonth-button")
        page.evaluate(
            "async (id) => { await fetch('/api/v1/posts/' + id + '/cancel', {method: 'POST'}); }",
            post_id,
        )


def test_a_queued_targets_caption_is_edited_from_the_schedule(composer: dict[str, Any]) -> None:
    page = composer["page"]
    post_id = composer["queued"]
    first = composer["tiktok"][0]
    item = f'#schedule-list li[data-post="{post_id}"]'
    page.wait_for_selector(item)
    target = next(t for t in post_of(page, post_id)["targets"] if t["account_id"] == first)
    page.click(f'{item} li[data-target="{target["id"]}"] button:has-text("Edit")')
    page.wait_for_selector("#edit-dialog[open] .tt-who strong", timeout=15_000)
    assert page.input_value('#edit-dialog [name="privacy_level"]') == "FOLLOWER_OF_CREATOR"
    page.fill('#edit-dialog [name="caption"]', "Edited in the schedule")
    page.click("#edit-save")
    page.wait_for_function("!document.getElementById('edit-dialog').open", timeout=10_000)
    edited = next(t for t in post_of(page, post_id)["targets"] if t["account_id"] == first)
    assert edited["options"]["caption"] == "Edited in the schedule"
    assert edited["options"]["privacy_level"] == "FOLLOWER_OF_CREATOR"


def test_a_failed_target_is_edited_and_queued_again(composer: dict[str, Any]) -> None:
    page = composer["page"]
    account = composer["tiktok"][1]
    # queued with a level the creator offered; at publish TikTok answers that it is no
    # longer available (the creator changed it since): failed for good, the person chooses
    # again. (A level the creator does not offer is refused when queued, issue 13.)
    httpx.post(
        f"{composer['stack'].sandbox}/sandbox/tiktok/faults",
        json={
            "endpoint": "publish",
            "kind": "fail_publish",
            "detail": "privacy_level_option_mismatch",
        },
        timeout=5,
    ).raise_for_status()
    post_id = queue_by_api(
        page,
        [
            {
                "account_id": account,
                "tiktok": {
                    "caption": "x",
                    "privacy_level": "FOLLOWER_OF_CREATOR",
                    "disable_duet": True,  # the creator turned duets off
                },
            }
        ],
        None,
    )
    item = f'#schedule-list li[data-post="{post_id}"]'
    page.wait_for_selector(f"{item} .status.failed", timeout=60_000)
    page.click(f"{item} button:has-text('Edit and queue again')")
    page.wait_for_selector("#edit-dialog[open] .tt-who strong", timeout=15_000)
    assert page.text_content("#edit-save") == "Save and queue again"
    page.select_option('#edit-dialog [name="privacy_level"]', "SELF_ONLY")
    page.click("#edit-save")
    page.wait_for_function("!document.getElementById('edit-dialog').open", timeout=10_000)
    page.wait_for_function(
        f"""(() => {{ const s = document.querySelector('{item} .status');
              return s && !s.classList.contains('failed'); }})()""",
        timeout=15_000,
    )
    # the keyboard is on the target's new status where the person was (the schedule's
    # list), not left on the page's start with the dialog gone (issue 12)
    assert page.evaluate(
        "(s) => document.activeElement === document.querySelector(s)",
        f"{item} li[data-target] .status",
    )
    again = post_of(page, post_id)["targets"][0]
    assert again["options"]["privacy_level"] == "SELF_ONLY"
    assert again["status"] != "failed" or again["attempts"] >= 2


def test_buttons_keep_their_words_on_one_line_and_the_favicon_is_served(
    composer: dict[str, Any],
) -> None:
    page = composer["page"]
    stack = composer["stack"]
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 844})
        for button in page.locator("#accounts-body button:has-text('Disconnect')").all():
            box = button.bounding_box()
            assert box is not None
            assert box["height"] < 48, (width, box)
    page.set_viewport_size({"width": 1280, "height": 900})
    icon = httpx.get(f"{stack.gateway}/favicon.ico", timeout=5)
    assert icon.status_code == 200
    assert icon.content[:4] == b"\x00\x00\x01\x00"


def test_composer_and_schedule_pass_axe_without_console_errors_at_desktop_and_phone_width(
    composer: dict[str, Any], screenshots: Path
) -> None:
    page = composer["page"]
    CONSOLE_ERRORS.clear()  # earlier tests made the API refuse on purpose
    page.reload()
    page.wait_for_selector("#schedule-list li", timeout=15_000)
    page.wait_for_selector("#targets .tt-who strong", timeout=15_000)
    page.wait_for_timeout(2500)
    assert CONSOLE_ERRORS == []
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 844})
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshots / f"compose-schedule-{width}.png"), full_page=True)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        results = Axe().run(page)
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], (width, json.dumps(serious)[:2000])
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_telegram_account_keeps_its_name_and_shows_its_linked_channel_beside_it(
    stack: EmbeddedStack, sign_in: Any
) -> None:
    sign_in.telegram_channel(-1009876501234, "composechannel", "Compose Channel")
    with sign_in(("telegram", None), email="tgc") as page:
        account = '#accounts-body tr[data-platform="telegram"]'
        page.wait_for_selector(f"{account} input[name=channel_id]", timeout=15_000)
        name = page.text_content(f"{account} td >> nth=1")
        sign_in.link_channel(page, "composechannel")
        assert page.text_content(f"{account} td >> nth=1") == f"{name} · channel: Compose Channel"
