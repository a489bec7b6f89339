"""Browser: a client composes a video, a photo post or an article (issue 10 item 8).

The composer offers the three kinds; "Post to" lists every connected account
with its platform's own fields, built from the queue's registry
(``GET /api/v1/posts/platforms``), and shows an account whose platform cannot
take the chosen kind disabled, with the reason in the registry's words. A
server error appears under the field it names.

On this branch TikTok and YouTube take videos only (photo mode, Telegram,
Instagram and VK come with their publishers), so the article and the photo
post show TikTok's reason; a video post to it is queued after the caption the
server refused is fixed.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from cachalot_common import platforms
from cachalot_queue.tables import Media
from cachalot_testing.media import image_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

BOB = "-000sandboxBobOpenId"
VIDEO = Path(__file__).parents[1] / "fixtures" / "sample.mp4"
TIKTOK = '#targets .target[data-platform="tiktok"]'


def store_images(stack: EmbeddedStack, client_id: str, count: int) -> list[str]:
    """Real PNG images in the queue's store, as POST /api/v1/media keeps them: the file,
    then its row in the queue's database (sides 320+i × 240 pixels)."""
    engine = create_engine(f"sqlite:///{stack.var_dir / 'queue.db'}")
    ids = []
    try:
        with Session(engine) as session, session.begin():
            for i in range(count):
                media_id = uuid.uuid4()
                colour = ("0x3366aa", "0xaa6633", "0x33aa66")[i % 3]
                data = image_file(
                    width=320 + i, height=240, suffix=".png", colour=colour
                ).read_bytes()
                (stack.var_dir / "media" / f"{media_id}.png").write_bytes(data)
                session.add(
                    Media(
                        id=media_id,
                        client_id=uuid.UUID(client_id),
                        path=f"{media_id}.png",
                        size=len(data),
                        sha256=hashlib.sha256(data).hexdigest(),
                        content_type="image/png",
                        duration_sec=None,
                        width=320 + i,
                        height=240,
                        created_at=datetime.now(UTC) - timedelta(seconds=count - i),
                    )
                )
                ids.append(str(media_id))
    finally:
        engine.dispose()
    return ids


def test_each_kind_shows_which_accounts_take_it_and_errors_sit_under_their_fields(
    stack: EmbeddedStack, sign_in: Any
) -> None:
    with sign_in(("tiktok", BOB), email="kinds") as page:
        page.wait_for_selector(f'{TIKTOK} input[name="target"]:checked', timeout=15_000)
        client_id = page.evaluate("fetch('/api/v1/me').then((r) => r.json())")["client_id"]
        older, newer = store_images(stack, client_id, 2)
        page.reload()
        page.wait_for_selector(f'{TIKTOK} input[name="target"]:checked', timeout=15_000)
        # the block's fields come from the registry: TikTok's caption and privacy, the
        # privacy read from creator_info with none chosen (TikTok's Direct Post rules)
        assert page.is_visible(f'{TIKTOK} textarea[name="caption"]')
        page.wait_for_selector(f"{TIKTOK} .tt-who strong", timeout=15_000)
        assert page.input_value(f'{TIKTOK} select[name="privacy_level"]') == ""
        assert not page.is_visible(f'{TIKTOK} [name="photo_title"]')  # a photo post's field

        page.check('input[name="kind"][value="article"]')
        assert page.is_visible("#article-title")
        assert page.is_visible("#article-body")
        assert "<blockquote>" in (page.text_content("#article-hint") or "")
        assert not page.is_visible("#video")
        assert page.is_disabled(f'{TIKTOK} input[name="target"]')
        assert page.text_content(f"{TIKTOK} .reason") == (
            "TikTok cannot take article posts; it takes video or photo posts"
        )
        assert not page.is_visible(f"{TIKTOK} fieldset")
        page.fill("#article-title", "Notes")
        page.fill("#article-body", "<p>Hello</p>")
        page.click("#queue-button")
        assert page.text_content("#post-errors") == "Choose at least one account."

        cover_options = page.eval_on_selector_all(
            "#article-cover option", "os => os.map(o => o.value)"
        )
        assert cover_options == ["", newer, older]  # no cover, then the images, newest first

        page.check('input[name="kind"][value="photo"]')
        assert page.is_visible("#image-upload")
        # images are picked in the order ticked, whatever the list's order
        page.check(f'#image-choices input[value="{older}"]')
        page.check(f'#image-choices input[value="{newer}"]')
        order = '#image-choices label:has(input[value="{}"]) .order'
        assert page.text_content(order.format(older)) == "#1"
        assert page.text_content(order.format(newer)) == "#2"
        page.uncheck(f'#image-choices input[value="{older}"]')
        assert page.text_content(order.format(newer)) == "#1"
        # each choice shows its picture and its sides, not only when and how large (fresh10b)
        page.wait_for_function(
            "() => [...document.querySelectorAll('#image-choices label img')]"
            ".filter((img) => img.complete && img.naturalWidth > 0).length === 2",
            timeout=15_000,
        )
        assert "×" in (page.text_content(f'#image-choices label:has(input[value="{older}"])') or "")
        # the focus stays on the box just ticked (the list is drawn again)
        page.focus(f'#image-choices input[value="{older}"]')
        page.keyboard.press("Space")
        assert page.evaluate("document.activeElement.value") == older
        assert page.is_enabled(f'{TIKTOK} input[name="target"]')  # TikTok photo mode
        assert page.text_content(f"{TIKTOK} .reason") == ""

        page.check('input[name="kind"][value="video"]')
        assert page.is_enabled(f'{TIKTOK} input[name="target"]')
        assert page.text_content(f"{TIKTOK} .reason") == ""
        page.set_input_files("#video", str(VIDEO))
        caption = f'{TIKTOK} [name="caption"]'
        page.fill(caption, "x" * 2201)
        ahead = datetime.now() + timedelta(days=2)  # nothing is published meanwhile
        page.fill("#when", ahead.strftime("%Y-%m-%dT%H:%M"))
        # privacy chosen first: the composer says a missing choice before it asks the server
        # (errors in two rounds, named in the session-8 note), and the caption is the server's
        page.select_option(f'{TIKTOK} select[name="privacy_level"]', "SELF_ONLY")
        page.click("#queue-button")
        # the server's 422 names targets[0].tiktok.caption: shown under that field
        page.wait_for_selector(f'{TIKTOK} [data-error="caption"]:has-text("2200")', timeout=15_000)
        assert page.text_content("#post-errors") == ""

        page.fill(caption, "a video, at last")
        page.select_option(f'{TIKTOK} select[name="privacy_level"]', "SELF_ONLY")
        sign_in.queue_composed(page)


def test_each_field_shows_only_with_its_kinds_and_is_labelled_in_words_in_both_languages(
    stack: EmbeddedStack, sign_in: Any
) -> None:
    """The registry's fields (``x-kinds``, titles): a Telegram article offers no caption
    (the API refuses one) but how to post it; a video the caption and not that; no label
    is a field's name ("Owner Id", "Article As", "Share To Feed"), in English or Russian."""
    sign_in.telegram_channel(-1009876507777, "kindschannel", "Kinds Channel")
    # a label made from a field's name (pydantic's default title), unless it is a word too
    models = [f for name in platforms.names() if (f := platforms.get(name).fields) is not None]
    field_names = {
        name.replace("_", " ").title() for model in models for name in model.model_fields
    } - {field.title for model in models for field in model.model_fields.values()}
    telegram = '#targets .target[data-platform="telegram"]'
    labels = "ls => ls.map((l) => l.textContent.replace('(required)', '').trim())"
    with sign_in(("telegram", None), ("vk", None), ("instagram", None), email="fields") as page:
        sign_in.link_channel(page, "kindschannel")
        page.wait_for_selector(f'{telegram} input[name="target"]:enabled', timeout=15_000)
        page.check(f'{telegram} input[name="target"]')
        page.check('input[name="kind"][value="article"]')
        assert not page.is_visible(f'{telegram} [name="caption"]')
        assert page.is_visible(f'{telegram} select[name="article_as"]')
        assert page.is_visible(f'{telegram} [name="disable_link_preview"]')
        assert page.text_content(f'{telegram} label[for$="-article_as"]') == (
            "How to post the article"
        )
        choices = "os => os.map((o) => [o.value, o.textContent])"
        assert page.eval_on_selector_all(f'{telegram} [name="article_as"] option', choices) == [
            ["auto", "One message when it fits, else a Telegraph page"],
            ["message", "Always one message"],
            ["telegraph", "Always a Telegraph page announced in the channel"],
        ]
        page.check('input[name="kind"][value="video"]')
        assert page.is_visible(f'{telegram} [name="caption"]')
        assert not page.is_visible(f'{telegram} [name="article_as"]')
        shown = page.eval_on_selector_all("#targets fieldset.block label", labels)
        assert len(shown) > 6
        assert [label for label in shown if label in field_names] == []

        with page.expect_navigation():  # the page reloads in the language chosen
            page.select_option("#language", "ru")
        page.wait_for_selector(f"{telegram} fieldset.block", state="attached", timeout=15_000)
        assert page.get_attribute("html", "lang") == "ru"
        shown = page.eval_on_selector_all("#targets fieldset.block label", labels)
        assert [label for label in shown if label in field_names] == []
        assert "Куда публиковать" in shown
        assert "Показать рилс и в ленте" in shown
        russian = re.compile("[А-Яа-яЁё]")
        assert [label for label in shown if not russian.search(label)] == []
        worded = page.eval_on_selector_all(f'{telegram} [name="article_as"] option', choices)
        assert [text for _, text in worded if not russian.search(text)] == []


def test_a_tiktok_photo_post_from_the_composer_sends_no_video_only_option_and_is_queued(
    stack: EmbeddedStack, sign_in: Any
) -> None:
    """TikTok's own switches (composer.js) leave out duets and stitches on a photo post:
    they are video options (``x-kinds``) that the queue refuses on a photo post."""
    with sign_in(("tiktok", BOB), email="tiktok-photo") as page:
        page.wait_for_selector(f'{TIKTOK} input[name="target"]:checked', timeout=15_000)
        page.check('input[name="kind"][value="photo"]')
        page.set_input_files("#image-upload", str(image_file(width=1080, height=1350)))
        page.wait_for_selector(f"{TIKTOK} .tt-who strong", timeout=15_000)
        page.select_option(f'{TIKTOK} select[name="privacy_level"]', "SELF_ONLY")
        page.fill(f'{TIKTOK} [name="photo_title"]', "Trip")
        ahead = datetime.now() + timedelta(days=2)  # nothing is published meanwhile
        page.fill("#when", ahead.strftime("%Y-%m-%dT%H:%M"))
        sign_in.queue_composed(page)
        post = page.evaluate(
            "async () => (await (await fetch('/api/v1/posts?limit=1')).json()).items[0]"
        )
        (options,) = [t["options"] for t in post["targets"]]
        assert (post["kind"], options["photo_title"]) == ("photo", "Trip")
        assert (options["disable_duet"], options["disable_stitch"]) == (False, False)


def is_list(request: Any) -> bool:
    """The page's read of the media list (GET /api/v1/media?limit=…), not a thumbnail."""
    return request.method == "GET" and "/api/v1/media?" in request.url


def test_a_queued_photo_posts_images_are_changed_from_its_row_and_errors_stay_in_the_dialog(
    stack: EmbeddedStack, sign_in: Any
) -> None:
    """fresh10 (gap): a queued post's content could not be changed, only its time and
    settings; "Change the images" on its row sends the new images with PATCH."""
    with sign_in(("tiktok", BOB), email="change-images") as page:
        page.wait_for_selector(f'{TIKTOK} input[name="target"]:checked', timeout=15_000)
        accounts = page.evaluate("fetch('/api/v1/accounts').then((r) => r.json())")
        tiktok = next(a["id"] for a in accounts if a["platform"] == "tiktok")
        colours = ("0x3366aa", "0xaa3366", "0x66aa33")
        first, second, third = (
            page.evaluate(
                """async (bytes) => (await (await fetch('/api/v1/media', {method: 'POST',
                     headers: {'content-type': 'image/jpeg'},
                     body: new Uint8Array(bytes)})).json()).id""",
                list(image_file(colour=c).read_bytes()),
            )
            for c in colours
        )
        ahead = (datetime.now(UTC) + timedelta(days=2)).isoformat()
        body = {
            "kind": "photo",
            "image_ids": [first],
            "targets": [{"account_id": tiktok, "tiktok": {"privacy_level": "SELF_ONLY"}}],
            "scheduled_at": ahead,
        }
        post = page.evaluate(
            """async (body) => (await fetch('/api/v1/posts', {method: 'POST',
                 headers: {'content-type': 'application/json'},
                 body: JSON.stringify(body)})).json()""",
            body,
        )
        assert "id" in post, post
        # the row's button is pressed before the page's reads of the media list (made after
        # the posts') have come back: the dialog shows the images all the same (flake14: a CI
        # run on a loaded machine found the dialog with no images)
        held: list[Any] = []
        holding = [True]

        def hold(route: Any) -> None:
            if holding[0] and is_list(route.request):
                held.append(route)
            else:
                route.continue_()

        page.route("**/api/v1/media*", hold)
        page.reload()
        change = page.get_by_role("button", name="Change the images")
        change.wait_for(timeout=15_000)
        assert held, "the page did not read the media list"
        change.click()
        holding[0] = False
        for route in held:
            route.continue_()
        page.unroute("**/api/v1/media*", hold)
        dialog = page.locator("#edit-dialog")
        dialog.locator(f'input[value="{first}"]').uncheck()
        page.click("#edit-save")
        assert "Choose at least one image." in dialog.locator("#edit-errors").inner_text()
        dialog.locator(f'input[value="{third}"]').check()
        dialog.locator(f'input[value="{second}"]').check()
        assert dialog.locator(f'label:has(input[value="{second}"]) .order').inner_text() == "#2"
        page.click("#edit-save")
        page.wait_for_selector("#edit-dialog", state="hidden", timeout=15_000)
        shown = page.evaluate(f"fetch('/api/v1/posts/{post['id']}').then((r) => r.json())")
        assert shown["image_ids"] == [third, second]
        trail = page.evaluate(f"fetch('/api/v1/posts/{post['id']}/audit').then((r) => r.json())")
        assert trail["items"][-1]["action"] == "edited"


def test_a_photo_posts_image_older_than_the_newest_hundred_files_stays_ticked_in_its_dialog(
    stack: EmbeddedStack, sign_in: Any
) -> None:
    """flake14: the dialog offered the newest 100 files (the page's read of the library) and
    ticked only the post's images among them; an older one was not shown (and a video post's
    older video was not the chosen one: a save changed it to the newest)."""
    with sign_in(("tiktok", BOB), email="older-images") as page:
        page.wait_for_selector(f'{TIKTOK} input[name="target"]:checked', timeout=15_000)
        me = page.evaluate("fetch('/api/v1/me').then((r) => r.json())")
        accounts = page.evaluate("fetch('/api/v1/accounts').then((r) => r.json())")
        tiktok = next(a["id"] for a in accounts if a["platform"] == "tiktok")
        old = page.evaluate(
            """async (bytes) => (await (await fetch('/api/v1/media', {method: 'POST',
                 headers: {'content-type': 'image/jpeg'},
                 body: new Uint8Array(bytes)})).json()).id""",
            list(image_file(colour="0x3366aa").read_bytes()),
        )
        body = {
            "kind": "photo",
            "image_ids": [old],
            "targets": [{"account_id": tiktok, "tiktok": {"privacy_level": "SELF_ONLY"}}],
            "scheduled_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        }
        post = page.evaluate(
            """async (body) => (await fetch('/api/v1/posts', {method: 'POST',
                 headers: {'content-type': 'application/json'},
                 body: JSON.stringify(body)})).json()""",
            body,
        )
        assert "id" in post, post
        engine = create_engine(f"sqlite:///{stack.var_dir / 'queue.db'}")
        try:
            with Session(engine) as session, session.begin():
                session.execute(
                    update(Media)
                    .where(Media.id == uuid.UUID(old))
                    .values(created_at=datetime.now(UTC) - timedelta(days=1))
                )
        finally:
            engine.dispose()
        store_images(stack, me["client_id"], 100)  # newer: the post's image is the 101st
        page.reload()
        change = page.get_by_role("button", name="Change the images")
        change.wait_for(timeout=15_000)
        change.click()
        tick = page.locator(f'#edit-dialog input[value="{old}"]')
        tick.wait_for(timeout=15_000)
        assert tick.is_checked()
        assert (
            page.locator(f'#edit-dialog label:has(input[value="{old}"]) .order').inner_text()
            == "#1"
        )
