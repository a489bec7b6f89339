"""Browser: resumable uploads and the media library (issue 12, item 3).

A video goes up in pieces (tus, tus-js-client against the queue through the
embedded gateway) with a progress bar; the page loses its connection midway
(Playwright takes the whole context offline and the request in flight fails),
says so, and when the connection is back it asks the server where it stands and
sends only the rest. "Your media" then shows the file with its picture, length
and size; it is reused for a second post without a new upload, refused for
deletion while those posts wait (naming them), and deleted once they are
cancelled, the confirmation saying which posts used it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

BOB = "-000sandboxBobOpenId"
VIDEO = video_file()
CHUNK = 4096  # bytes per PATCH: the 18 KB test video goes in five pieces
TIKTOK = '#targets [data-platform="tiktok"]'


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screens are kept: ``CACHALOT_SCREENSHOT_DIR``, else the run's temp dir."""
    chosen = os.environ.get("CACHALOT_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Uploads:
    """The page's tus requests as the browser sent them, and the cut the test makes."""

    def __init__(self, context: Any) -> None:
        self.context = context
        self.seen: list[tuple[str, str | None]] = []  # (method, Upload-Offset)
        self.cut_at: int | None = None  # drop the connection at this PATCH (1-based)
        self.kill_at: int | None = None  # restart the queue under this PATCH (1-based)
        self.kill: Callable[[], object] = lambda: None
        self.dialogs: list[str] = []  # what the page asked (confirm) before deleting

    def handle(self, route: Any, request: Any) -> None:
        self.seen.append((request.method, request.headers.get("upload-offset")))
        patches = sum(1 for method, _ in self.seen if method == "PATCH")
        if request.method == "PATCH" and patches == self.cut_at:
            self.cut_at = None
            self.context.set_offline(True)  # the train enters the tunnel
            route.abort("internetdisconnected")
            return
        if request.method == "PATCH" and patches == self.kill_at:
            self.kill_at = None
            self.kill()  # the queue dies before this piece reaches it; the gateway says 503
        route.continue_()


@pytest.fixture(scope="module")
def bob(sign_in: Any) -> Iterator[tuple[Any, Uploads]]:
    """Bob signed in with TikTok and consented; the page records its tus requests."""
    recorded: list[Uploads] = []

    def record(page: Any) -> None:
        page.context.add_init_script(f"window.CACHALOT_UPLOAD_CHUNK_BYTES = {CHUNK};")
        recorded.append(Uploads(page.context))
        page.route("**/api/v1/media/uploads**", recorded[0].handle)

    def on_dialog(dialog: Any) -> None:
        recorded[0].dialogs.append(dialog.message)
        dialog.accept()

    with sign_in(("tiktok", BOB), email="uploads", setup=record, on_dialog=on_dialog) as page:
        page.wait_for_selector(f'{TIKTOK} input[name="target"]:checked', timeout=15_000)
        try:
            yield page, recorded[0]
        finally:
            page.context.set_offline(False)
            page.unroute("**/api/v1/media/uploads**")


def queue_until_accepted(page: Any) -> None:
    """Click Queue until the queue has learned the account from accounts.v1."""
    for _ in range(30):
        page.click("#queue-button")
        page.wait_for_selector("#queue-button:enabled", timeout=60_000)
        if page.is_visible("#flash.ok") and page.text_content("#flash") == "Queued.":
            return
        page.wait_for_timeout(300)
    raise AssertionError(page.text_content("#post-errors"))


def choose_tiktok_privacy(page: Any) -> None:
    """Make the choice TikTok's Direct Post rules leave to the person (no default privacy)."""
    page.wait_for_function(
        "document.querySelector('#targets .target[data-platform=\"tiktok\"] .tt-who strong')"
        " || document.querySelector('#targets [data-error=\"creator\"]').textContent",
        timeout=15_000,
    )
    page.select_option(f'{TIKTOK} [name="privacy_level"]', "SELF_ONLY")


def two_days_ahead() -> str:
    return (datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")


def compose_video(page: Any, caption: str) -> None:
    """The test video for Bob's TikTok with ``caption``, private, two days ahead (not queued)."""
    page.set_input_files("#video", str(VIDEO))
    page.fill(f'{TIKTOK} [name="caption"]', caption)
    choose_tiktok_privacy(page)
    page.fill("#when", two_days_ahead())


def test_an_upload_cut_off_by_a_lost_connection_resumes_where_it_stopped(
    bob: tuple[Any, Uploads], screenshots: Path
) -> None:
    page, uploads = bob
    page.evaluate(
        """() => {
          window.__progress = [];
          const bar = document.getElementById('upload-bar');
          new MutationObserver(() => window.__progress.push(bar.value))
            .observe(bar, { attributes: true });
        }"""
    )
    uploads.cut_at = 3  # two pieces arrive, the third is lost with the connection
    compose_video(page, "sent in pieces")
    page.click("#queue-button")

    page.wait_for_selector("#upload-progress:has-text('Connection lost at')", timeout=20_000)
    assert page.is_visible("#upload-bar")
    stopped_at = page.evaluate("document.getElementById('upload-bar').value")
    assert 0 < stopped_at < 100, stopped_at
    assert page.text_content("#upload-pause") == "Resume"
    page.screenshot(path=str(screenshots / "upload-offline-1280.png"), full_page=True)

    page.context.set_offline(False)  # back online: the page goes on by itself
    page.wait_for_selector("#queue-button:enabled", timeout=30_000)  # the upload ended
    assert page.is_hidden("#upload-controls")
    if page.text_content("#flash") != "Queued.":  # the queue may not know Bob's account yet
        queue_until_accepted(page)
    assert page.text_content("#flash") == "Queued."
    progress = page.evaluate("window.__progress")
    assert progress[-1] == 100 or 100 in progress, progress

    creations = [offset for method, offset in uploads.seen if method == "POST"]
    assert len(creations) >= 1
    heads = [i for i, (method, _) in enumerate(uploads.seen) if method == "HEAD"]
    assert heads, "the page never asked where the server stood"
    after = [int(offset or 0) for method, offset in uploads.seen[heads[0] :] if method == "PATCH"]
    assert after, "nothing was sent after the HEAD"
    assert after[0] == 2 * CHUNK  # it went on from what the server had, not from 0


class Outage:
    """The queue kept away (``kill -9`` each time the stack's supervisor starts it again,
    from a thread: the page's loop owns the main one) until :meth:`end`; then it starts."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.over = threading.Event()

    def begin(self) -> None:
        threading.Thread(target=self._hold, daemon=True).start()

    def end(self) -> None:
        self.over.set()

    def _hold(self) -> None:
        while not self.over.is_set():
            # (KeyError, ProcessLookupError: between a death and the next start)
            with contextlib.suppress(KeyError, ProcessLookupError):
                self.stack.kill("queue")
            self.over.wait(0.2)


def test_an_upload_cut_off_by_a_queue_restart_goes_on_from_the_servers_offset(
    bob: tuple[Any, Uploads], stack: EmbeddedStack
) -> None:
    """The queue is killed under the third piece and kept away (the gateway answers 503)
    until the page says it waits for the server (web12g: it said "press Resume" for
    minutes); then it comes back, and the upload goes on by itself, never asking for
    Resume, with its address, from the two pieces the server kept, never from 0."""
    page, uploads = bob
    start = len(uploads.seen)
    outage = Outage(stack)
    uploads.kill = outage.begin
    # the third piece of this upload (the module's earlier uploads sent pieces too: counted
    # from the first, the kill never came and this test passed without any restart)
    uploads.kill_at = 3 + sum(1 for method, _ in uploads.seen if method == "PATCH")
    page.evaluate(
        """() => {
          document.getElementById('flash').textContent = '';
          window.__said = [];
          const words = document.getElementById('upload-progress');
          new MutationObserver(() => window.__said.push(words.textContent))
            .observe(words, { childList: true, characterData: true, subtree: true });
        }"""
    )
    compose_video(page, "through a restart")
    try:
        page.click("#queue-button")
        # the marker: said from the second failed try (~1 s after the kill)
        try:
            page.wait_for_selector(
                "#upload-progress:has-text('Waiting for the server')", timeout=30_000
            )
        except Exception as error:  # what the page said and sent instead
            said = page.evaluate("window.__said")
            raise AssertionError(f"{said} {uploads.seen[start:]}") from error
        assert page.text_content("#upload-pause") == "Resume"  # which tries at once
    finally:
        outage.end()  # the queue starts again
    page.wait_for_selector("#queue-button:enabled", timeout=90_000)  # the upload ended
    said = page.evaluate("window.__said")
    assert not [s for s in said if "press Resume" in s], said
    if page.text_content("#flash") != "Queued.":
        queue_until_accepted(page)
    assert page.text_content("#flash") == "Queued."
    seen = uploads.seen[start:]
    assert [m for m, _ in seen].count("POST") == 1, seen  # one upload, never a new one
    patches = [int(offset or 0) for method, offset in seen if method == "PATCH"]
    assert patches[:3] == [0, CHUNK, 2 * CHUNK], seen
    assert min(patches[3:]) >= 2 * CHUNK, seen  # after the restart: from the server's offset


USED_BYTES = """async () => {
  const answer = await fetch('/api/v1/media?limit=1');
  return answer.ok ? (await answer.json()).used_bytes : null;
}"""
"""The bytes the client's files and uploads in progress hold against its quota (None while
the queue is away)."""


@pytest.mark.timeout(300)
def test_cancel_while_the_server_is_away_drops_the_upload_once_it_is_back(
    bob: tuple[Any, Uploads], stack: EmbeddedStack
) -> None:
    """s12 LOW: Cancel pressed while the queue was away (a restart) left the upload, and
    the bytes it holds against the client's quota, to its expiry a day later. The queue
    is killed under the third piece and kept away; Cancel is pressed while the page waits
    for it; once the queue is back, the page drops the upload by itself."""
    page, uploads = bob
    before = page.evaluate(USED_BYTES)
    outage = Outage(stack)
    uploads.kill = outage.begin
    uploads.kill_at = 3 + sum(1 for method, _ in uploads.seen if method == "PATCH")
    page.evaluate("document.getElementById('flash').textContent = ''")
    compose_video(page, "cancelled while the server is away")
    try:
        page.click("#queue-button")
        page.wait_for_selector(
            "#upload-progress:has-text('Waiting for the server')", timeout=30_000
        )
        page.click("#upload-cancel")
        page.wait_for_selector("#post-errors:has-text('The upload was cancelled.')", timeout=60_000)
    finally:
        outage.end()  # the queue starts again
    # the marker: the client's used bytes are what they were before the upload began (the
    # queue's restart takes 10-30 s on a loaded machine)
    used = [page.evaluate(USED_BYTES)]
    for _ in range(180):
        if used[-1] == before:
            break
        page.wait_for_timeout(500)
        used.append(page.evaluate(USED_BYTES))
    assert used[-1] == before, (before, sorted(set(used), key=used.index), uploads.seen[-4:])
    assert uploads.seen[-1][0] == "DELETE"


def test_a_queue_restart_right_after_the_last_piece_is_waited_out_not_taken_for_a_failure(
    bob: tuple[Any, Uploads], stack: EmbeddedStack
) -> None:
    """fresh12h: the queue killed just after it stored the last piece. The page's check of
    the stored file got 503, the upload ended as failed, and Queue sent the whole file
    again. Now the check waits for the server as the pieces do, then the post queues."""
    page, uploads = bob
    start = len(uploads.seen)
    outage = Outage(stack)
    checks: list[str] = []

    def check(route: Any) -> None:
        if route.request.method == "GET" and not checks:  # the first check: the queue dies
            with contextlib.suppress(KeyError, ProcessLookupError):
                stack.kill("queue")
            outage.begin()
        checks.append(route.request.method)
        route.continue_()

    media = re.compile(r".*/api/v1/media/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
    page.route(media, check)
    try:
        compose_video(page, "stored, then the queue restarts")
        try:
            page.click("#queue-button")
            page.wait_for_selector(
                "#upload-progress:has-text('waiting for the server to check it')", timeout=60_000
            )
        finally:
            outage.end()  # the queue starts again
        page.wait_for_selector("#queue-button:enabled", timeout=120_000)  # the upload ended
        if page.text_content("#flash") != "Queued.":
            queue_until_accepted(page)
        assert page.text_content("#flash") == "Queued."
    finally:
        page.unroute(media, check)
    assert len(checks) >= 2, checks  # asked again once the queue was back
    seen = uploads.seen[start:]
    assert [m for m, _ in seen].count("POST") == 1, seen  # one upload, never a second


def assert_one_upload_and_one_post(
    page: Any, seen: list[tuple[str, str | None]], caption: str
) -> None:
    """``seen`` (the uploads' requests since the click) holds one upload, and the client has
    one post of ``caption``: nothing sent or made twice."""
    assert [m for m, _ in seen].count("POST") == 1, seen  # one upload, never a second
    listed = page.evaluate("fetch('/api/v1/posts?limit=100').then((r) => r.json())")
    items = listed["items"] if isinstance(listed, dict) else listed
    assert sum(caption in json.dumps(p) for p in items) == 1


def queue_while_routed(page: Any, pattern: Any, handler: Any, caption: str) -> None:
    """The test video queued with ``caption`` while ``handler`` answers the requests of
    ``pattern``, clicked again while the queue has not learned the account yet."""
    page.route(pattern, handler)
    try:
        compose_video(page, caption)
        page.click("#queue-button")
        page.wait_for_selector("#queue-button:enabled", timeout=120_000)
        if page.text_content("#flash") != "Queued.":  # refused: the queue learns accounts late
            queue_until_accepted(page)
        assert page.text_content("#flash") == "Queued."
    finally:
        page.unroute(pattern, handler)


@pytest.mark.timeout(300)
def test_a_queue_restart_as_the_post_is_queued_is_waited_out_with_one_key_and_one_upload(
    bob: tuple[Any, Uploads], stack: EmbeddedStack
) -> None:
    """fresh12k: the queue killed after the video was stored and checked, just as the page
    queued the post. The post's POST got 503, the page stopped, and Queue again sent the
    whole video a second time. Now the page waits for the server, trying again with the
    same Idempotency-Key (a post stored before its answer was lost is not made twice),
    and a refusal after the upload leaves the video chosen from "Your media"."""
    page, uploads = bob
    start = len(uploads.seen)
    outage = Outage(stack)
    keys: list[str] = []

    def post(route: Any) -> None:
        if route.request.method == "POST":
            if not keys:  # the post's first try: the queue dies
                with contextlib.suppress(KeyError, ProcessLookupError):
                    stack.kill("queue")
                outage.begin()
            keys.append(route.request.headers.get("idempotency-key", ""))
        route.continue_()

    posts = re.compile(r".*/api/v1/posts$")
    caption = f"queued as the queue restarts {uuid.uuid4().hex[:6]}"
    page.route(posts, post)
    try:
        compose_video(page, caption)
        try:
            page.click("#queue-button")
            page.wait_for_selector(
                "#upload-progress:has-text('waiting for the server to queue the post')",
                timeout=90_000,
            )
        finally:
            outage.end()  # the queue starts again
        page.wait_for_selector("#queue-button:enabled", timeout=120_000)
        first_click = list(keys)
        if page.text_content("#flash") != "Queued.":  # refused: the queue learns accounts late
            queue_until_accepted(page)
        assert page.text_content("#flash") == "Queued."
    finally:
        page.unroute(posts, post)
    assert len(first_click) >= 2, first_click  # asked again once the queue was back
    assert len(set(first_click)) == 1, first_click  # with the same key each time
    assert_one_upload_and_one_post(page, uploads.seen[start:], caption)


def test_a_post_whose_answer_was_lost_is_asked_again_with_its_key_and_made_once(
    bob: tuple[Any, Uploads],
) -> None:
    """fresh12k HIGH: the queue stored the post and answered 201, but the answer never
    reached the page (the connection reset). The page said nothing, and Queue again
    uploaded the video a second time and made a second post for the same account."""
    page, uploads = bob
    start = len(uploads.seen)
    keys: list[str] = []

    def post(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            answer = route.fetch()  # the queue stores the post and answers...
            assert answer.status in (201, 422), answer.text()
            route.abort("connectionreset")  # ...and the answer is lost
            return
        route.continue_()

    posts = re.compile(r".*/api/v1/posts$")
    caption = f"its answer lost {uuid.uuid4().hex[:6]}"
    queue_while_routed(page, posts, post, caption)
    assert len(keys) >= 2, keys
    assert keys[0] == keys[1], keys  # asked again with the same key
    assert_one_upload_and_one_post(page, uploads.seen[start:], caption)


def test_a_post_unanswered_for_the_pages_whole_wait_and_queued_again_is_made_once(
    bob: tuple[Any, Uploads],
) -> None:
    """fresh14r HIGH: every answer to the post lost for longer than the page waits (its
    wait shortened here); Queue again reused the stored video but sent a new key (the
    body's fields in another order), and the client got two posts."""
    page, uploads = bob
    start = len(uploads.seen)
    keys: list[str] = []
    dropping = threading.Event()
    dropping.set()

    def post(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        keys.append(route.request.headers.get("idempotency-key", ""))
        if dropping.is_set():
            route.fetch()  # stored (or refused) by the queue...
            route.abort("connectionreset")  # ...its answer lost
            return
        route.continue_()

    posts = re.compile(r".*/api/v1/posts$")
    caption = f"unanswered for long {uuid.uuid4().hex[:6]}"
    page.evaluate("window.CACHALOT_WAIT_FOR_SERVER_MS = 3000")
    page.route(posts, post)
    try:
        compose_video(page, caption)
        page.click("#queue-button")
        page.wait_for_selector("#queue-button:enabled", timeout=120_000)
        assert page.text_content("#flash") != "Queued."
        first_click = list(keys)
        dropping.clear()
        if page.text_content("#flash") != "Queued.":
            queue_until_accepted(page)
        assert page.text_content("#flash") == "Queued."
    finally:
        page.unroute(posts, post)
        page.evaluate("delete window.CACHALOT_WAIT_FOR_SERVER_MS")
    assert len(first_click) >= 2, first_click
    assert keys[len(first_click)] == first_click[0], keys  # Queue again: the same key
    assert_one_upload_and_one_post(page, uploads.seen[start:], caption)


def test_an_upload_stored_by_another_tab_before_this_ones_last_piece_is_used_not_refused(
    bob: tuple[Any, Uploads],
) -> None:
    """fresh14s: two tabs sending the same file share its upload; the one whose last piece
    came second got 404 (the upload was stored and gone) and said "Upload not found", and
    its post was never made. It now finds the stored media and queues its post with it."""
    page, uploads = bob
    start = len(uploads.seen)
    size = str(VIDEO.stat().st_size)

    def last_piece(route: Any) -> None:
        if route.request.method != "PATCH":
            route.fallback()
            return
        answer = route.fetch()  # the server stores the upload...
        if answer.headers.get("upload-offset") == size:
            route.fulfill(status=404, body="")  # ...as if the other tab's piece had
            return
        route.fulfill(response=answer)

    pieces = re.compile(r".*/api/v1/media/uploads/.+")
    caption = f"stored by another tab {uuid.uuid4().hex[:6]}"
    queue_while_routed(page, pieces, last_piece, caption)
    assert_one_upload_and_one_post(page, uploads.seen[start:], caption)


def test_a_piece_answered_408_because_its_body_stopped_coming_is_sent_again_not_refused(
    bob: tuple[Any, Uploads],
) -> None:
    """A piece whose body stops coming for the services' ``request_body_idle_s`` (a laptop
    asleep mid-piece, a network gone quiet) is answered 408 (fresh15). tus-js-client retries
    no 4xx but 409 and 423, so the page took the 408 for a refusal of the file; it now asks
    where the upload stands and goes on."""
    page, uploads = bob
    start = len(uploads.seen)
    timed_out: list[str] = []
    offsets: list[str] = []  # every piece's Upload-Offset, the one answered 408 included

    def second_piece(route: Any) -> None:
        if route.request.method == "PATCH":
            offsets.append(route.request.headers.get("upload-offset") or "")
        if route.request.method == "PATCH" and len(offsets) == 2 and not timed_out:
            timed_out.append(offsets[-1])
            route.fulfill(
                status=408,
                headers={"Content-Type": "application/problem+json", "Connection": "close"},
                body='{"title": "Request body stopped", "status": 408, "idle_s": 60}',
            )
            return
        route.fallback()

    pieces = re.compile(r".*/api/v1/media/uploads/.+")
    caption = f"piece timed out {uuid.uuid4().hex[:6]}"
    page.route(pieces, second_piece)
    try:
        compose_video(page, caption)
        for _ in range(30):  # refused before any upload while the queue learns the account
            page.click("#queue-button")
            page.wait_for_selector("#queue-button:enabled", timeout=120_000)
            if offsets:
                break
            page.wait_for_timeout(1_000)
    finally:
        page.unroute(pieces, second_piece)
    assert timed_out, offsets
    # one click: that piece sent again from its offset, the post queued (before: the upload
    # ended "refused" at the 408 and the page said so)
    assert offsets.count(timed_out[0]) == 2, offsets
    assert page.text_content("#flash") == "Queued."
    assert_one_upload_and_one_post(page, uploads.seen[start:], caption)


def test_your_media_shows_the_upload_with_its_picture_and_reuses_it_in_a_new_post(
    bob: tuple[Any, Uploads], screenshots: Path
) -> None:
    page, uploads = bob
    row = "#media-body tr:first-child"
    # the pictures load lazily (loading="lazy"): as a person scrolls to them, not before (a
    # page made longer by the posts above left the library past Chromium's lazy-load margin)
    page.locator("#media").scroll_into_view_if_needed()
    page.wait_for_selector(f"{row} td.thumb img", timeout=15_000)
    page.wait_for_function(
        "() => { const img = document.querySelector('#media-body tr:first-child td.thumb img');"
        " return img && img.complete && img.naturalWidth > 0; }",
        timeout=15_000,
    )
    assert page.text_content(f'{row} td[data-label="Length"]') == "0:03"
    assert "KiB" in (page.text_content(f'{row} td[data-label="Size"]') or "")
    assert page.text_content(f'{row} td[data-label="Posts"]') == "1 (1 not finished)"
    page.screenshot(path=str(screenshots / "media-library-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshots / "media-library-390.png"), full_page=True)
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    finally:
        page.set_viewport_size({"width": 1280, "height": 800})

    sent_before = len(uploads.seen)
    page.click(f"{row} button:has-text('Use in a new post')")
    page.wait_for_selector("#video-reused:not(.hidden)")
    assert "0:03" in (page.text_content("#video-reused") or "")
    page.fill(f'{TIKTOK} [name="caption"]', "the same video again")
    choose_tiktok_privacy(page)
    page.fill("#when", two_days_ahead())
    queue_until_accepted(page)
    assert len(uploads.seen) == sent_before  # nothing uploaded again
    page.wait_for_selector(f'{row} td[data-label="Posts"]:has-text("2 (2 not finished)")')
    assert page.is_hidden("#video-reused")  # the next post starts afresh


def test_a_video_is_deleted_only_once_no_waiting_post_needs_it_and_says_which_used_it(
    bob: tuple[Any, Uploads],
) -> None:
    page, uploads = bob
    row = "#media-body tr:first-child"
    media_id = page.get_attribute(row, "data-media")
    page.click(f"{row} button:has-text('Delete')")
    page.wait_for_selector("#flash.bad", timeout=15_000)
    refusal = page.text_content("#flash") or ""
    assert "cannot be deleted yet" in refusal
    # both waiting posts named, the platform and the status in words (fresh user: "tiktok")
    assert refusal.count("TikTok: scheduled") == 2, refusal
    assert page.is_visible(f'#media-body tr[data-media="{media_id}"]')

    page.evaluate(
        """async (id) => {
          const media = await (await fetch('/api/v1/media/' + id)).json();
          for (const post of media.posts) {
            await fetch('/api/v1/posts/' + post + '/cancel', { method: 'POST' });
          }
        }""",
        media_id,
    )
    page.reload()
    page.wait_for_selector(
        f'#media-body tr[data-media="{media_id}"] td[data-label="Posts"]:text-is("2")'
    )
    page.click(f'#media-body tr[data-media="{media_id}"] button:has-text("Delete")')
    page.wait_for_selector("#flash.ok", timeout=15_000)
    assert page.text_content("#flash") == "Video deleted."
    page.wait_for_selector(f'#media-body tr[data-media="{media_id}"]', state="detached")
    asked = uploads.dialogs[-1]
    assert asked.startswith("Delete this video? It was used by the post of")
    assert asked.count("TikTok: cancelled") == 2, asked


def slow_uploads(page: Any, bytes_per_s: int, latency_ms: int = 50) -> Any:
    """Chromium's own network throttling (DevTools protocol): a slow line for uploads."""
    session = page.context.new_cdp_session(page)
    session.send("Network.enable")
    session.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": latency_ms,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_s,
        },
    )
    return session


def bar_value(page: Any) -> int:
    return int(page.evaluate("document.getElementById('upload-bar').value"))


def test_pause_holds_an_upload_where_it_is_resume_finishes_it_and_cancel_drops_it(
    bob: tuple[Any, Uploads],
) -> None:
    page, uploads = bob
    session = slow_uploads(page, 3000)  # the 18 KB video takes about six seconds
    try:
        compose_video(page, "paused and resumed")
        page.click("#queue-button")
        page.wait_for_function(
            "() => document.getElementById('upload-bar').value > 0", timeout=20_000
        )
        page.click("#upload-pause")
        page.wait_for_selector("#upload-progress:has-text('Paused at')")
        held = bar_value(page)
        assert 0 < held < 100
        page.wait_for_timeout(1500)
        assert bar_value(page) == held  # nothing moves while paused
        page.click("#upload-pause")  # now "Resume"
        page.wait_for_selector("#queue-button:enabled", timeout=30_000)
        if page.text_content("#flash") != "Queued.":
            queue_until_accepted(page)
        assert page.text_content("#flash") == "Queued."

        page.evaluate("document.getElementById('flash').textContent = ''")
        compose_video(page, "cancelled")
        before = page.text_content("#media-usage")
        sent = len(uploads.seen)
        page.click("#queue-button")
        # the bar still says 100 from the first upload: wait for this one's first piece
        for _ in range(400):
            if any(method == "PATCH" for method, _ in uploads.seen[sent:]):
                break
            page.wait_for_timeout(50)
        page.click("#upload-cancel")
        page.wait_for_selector("#post-errors:has-text('The upload was cancelled.')")
        assert page.text_content("#upload-progress") == f"The upload of {VIDEO.name} was cancelled."
        assert uploads.seen[-1][0] == "DELETE"  # the server was told to drop what it had
        assert page.text_content("#flash") != "Queued."
        page.reload()
        page.wait_for_selector("#media-usage:has-text('used of')")
        assert page.text_content("#media-usage") == before  # no file kept, no quota held
    finally:
        session.detach()


def test_cancel_while_the_server_is_creating_the_upload_still_deletes_what_it_made(
    bob: tuple[Any, Uploads],
) -> None:
    page, uploads = bob
    session = slow_uploads(page, 3000, latency_ms=2500)  # each answer takes 2.5 s to come
    try:
        compose_video(page, "cancelled at once")
        before = page.text_content("#media-usage")
        sent = len(uploads.seen)
        page.click("#queue-button")
        for _ in range(400):  # the creation request (POST) is on its way
            if uploads.seen[sent:]:
                break
            page.wait_for_timeout(25)
        assert uploads.seen[sent:] == [("POST", None)]
        page.click("#upload-cancel")
        page.wait_for_selector("#post-errors:has-text('The upload was cancelled.')", timeout=30_000)
        # the server's answer was awaited, then what it made was dropped, and nothing sent
        assert [method for method, _ in uploads.seen[sent:]] == ["POST", "DELETE"]
        session.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        page.reload()
        page.wait_for_selector("#media-usage:has-text('used of')")
        assert page.text_content("#media-usage") == before
    finally:
        session.detach()


PLACED = """(ids) => ids.map((id) => {
  const box = document.getElementById(id).getBoundingClientRect();
  return { id, left: box.left, right: box.right, width: box.width, height: box.height };
})"""


def assert_fits_a_phone(page: Any, width: int = 390) -> None:
    """No sideways scroll; the bar, its words and both buttons on screen, buttons tappable
    (at least 24×24 CSS px, WCAG 2.2 success criterion 2.5.8)."""
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width
    ids = ["upload-bar", "upload-progress", "upload-pause", "upload-cancel"]
    for box in page.evaluate(PLACED, ids):
        assert box["left"] >= 0, box
        assert box["right"] <= width, box
        if box["id"] in ("upload-pause", "upload-cancel"):
            assert box["width"] >= 24, box
            assert box["height"] >= 24, box


def test_the_upload_screen_at_phone_width_shows_progress_and_its_buttons_work(
    bob: tuple[Any, Uploads], screenshots: Path, tmp_path: Path
) -> None:
    page, uploads = bob
    # a phone's file name is long and has no space to break at
    video = tmp_path / "VID_20261201_031500_0123456789_from_the_boat_trip_whales.mp4"
    video.write_bytes(VIDEO.read_bytes())
    session = slow_uploads(page, 2000)  # the 18 KB video takes about nine seconds
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.set_input_files("#video", str(video))
        page.fill(f'{TIKTOK} [name="caption"]', "uploaded from a phone")
        choose_tiktok_privacy(page)
        page.fill("#when", two_days_ahead())
        page.click("#queue-button")
        page.wait_for_function(
            "() => document.getElementById('upload-bar').value > 0", timeout=20_000
        )
        assert page.is_visible("#upload-bar")
        assert page.is_visible("#upload-controls")
        assert_fits_a_phone(page)
        page.screenshot(path=str(screenshots / "upload-progress-390.png"), full_page=True)

        page.click("#upload-pause")
        page.wait_for_selector("#upload-progress:has-text('Paused at')")
        held = bar_value(page)
        assert 0 < held < 100
        assert page.text_content("#upload-pause") == "Resume"
        assert_fits_a_phone(page)
        page.screenshot(path=str(screenshots / "upload-paused-390.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 800})
        page.wait_for_timeout(300)
        page.screenshot(path=str(screenshots / "upload-paused-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})

        page.click("#upload-pause")  # Resume, by a tap at phone width
        page.wait_for_function(
            f"() => document.getElementById('upload-bar').value > {held}", timeout=20_000
        )
        assert_fits_a_phone(page)
        page.click("#upload-cancel")
        page.wait_for_selector("#post-errors:has-text('The upload was cancelled.')")
        assert uploads.seen[-1][0] == "DELETE"
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        page.screenshot(path=str(screenshots / "upload-cancelled-390.png"), full_page=True)
    finally:
        session.detach()
        page.set_viewport_size({"width": 1280, "height": 800})


def post_of(page: Any, caption: str) -> dict[str, Any]:
    """The client's one post of ``caption`` (fails if there is none, or more than one)."""
    listed = page.evaluate("fetch('/api/v1/posts?limit=100').then((r) => r.json())")
    items = listed["items"] if isinstance(listed, dict) else listed
    found = [p for p in items if caption in json.dumps(p)]
    assert len(found) == 1, found
    return dict(found[0])


def test_cancel_in_a_second_tab_choosing_the_same_file_never_stops_the_first_tabs_upload(
    bob: tuple[Any, Uploads], stack: EmbeddedStack
) -> None:
    """tabs15: the tus fingerprint (file name, size, date) is in localStorage, which every
    tab shares. Tab A sent a file; tab B chose the same file, resumed A's upload (one
    upload for both), and Cancel in B deleted it: A's upload died and its post was never
    made. B now makes an upload of its own while A holds its one, and Cancel in B drops
    only B's."""
    page, uploads = bob  # tab A
    start = len(uploads.seen)
    held_a: list[Any] = []  # A's second piece, held until B has cancelled
    sent_a: list[str] = []  # the addresses A's pieces went to

    def hold_second_piece(route: Any) -> None:
        if route.request.method == "PATCH":
            sent_a.append(route.request.url)
            if len(sent_a) == 2:
                held_a.append(route)
                return
        route.fallback()  # to the recorder (Uploads.handle)

    other = page.context.new_page()  # tab B: the same browser, the same localStorage
    seen_b: list[tuple[str, str]] = []  # (method, address)
    held_b: list[Any] = []  # B's pieces, held so B is still sending when Cancel comes

    def hold_pieces(route: Any) -> None:
        seen_b.append((route.request.method, route.request.url))
        if route.request.method == "PATCH":
            held_b.append(route)
            return
        route.continue_()

    pattern = "**/api/v1/media/uploads**"
    caption = f"sent while another tab cancels {uuid.uuid4().hex[:6]}"
    page.route(pattern, hold_second_piece)
    other.route(pattern, hold_pieces)
    try:
        other.goto(f"{stack.gateway}/")
        other.wait_for_selector(f'{TIKTOK} input[name="target"]:checked', timeout=15_000)
        page.evaluate("document.getElementById('flash').textContent = ''")
        compose_video(page, caption)
        page.click("#queue-button")
        for _ in range(600):  # A has sent its first piece and is sending the second
            if held_a:
                break
            page.wait_for_timeout(50)
        assert held_a, uploads.seen[start:]

        compose_video(other, "chosen in a second tab, then cancelled")
        other.click("#queue-button")
        for _ in range(600):  # B is sending its first piece
            if held_b:
                break
            other.wait_for_timeout(50)
        assert held_b, seen_b
        a_upload = sent_a[0]
        # B made an upload of its own (a creation), never A's
        assert [m for m, _ in seen_b].count("POST") == 1, (seen_b, a_upload)
        assert a_upload not in [url for _, url in seen_b], (seen_b, a_upload)

        other.click("#upload-cancel")
        other.wait_for_selector(
            "#post-errors:has-text('The upload was cancelled.')", timeout=30_000
        )
        assert [m for m, _ in seen_b][-1] == "DELETE", seen_b
        assert seen_b[-1][1] != a_upload, seen_b

        held_a.pop().fallback()  # A's second piece goes on
        page.wait_for_selector("#queue-button:enabled", timeout=60_000)  # A's upload ended
        if page.text_content("#flash") != "Queued.":  # the queue may not know the account
            queue_until_accepted(page)
        assert page.text_content("#flash") == "Queued.", page.text_content("#post-errors")
    finally:
        for route in held_a + held_b:  # (B's were aborted by its Cancel: nothing to answer)
            with contextlib.suppress(Exception):
                route.abort()
        page.unroute(pattern, hold_second_piece)
        other.close()
    seen = uploads.seen[start:]
    assert [m for m, _ in seen].count("POST") == 1, seen  # A's one upload...
    assert "DELETE" not in [m for m, _ in seen], seen
    media_id = post_of(page, caption)["media_id"]  # ...is its post's video, whole
    assert a_upload.rsplit("/", 1)[1] == media_id.replace("-", ""), (a_upload, media_id)
    media = page.evaluate(f"fetch('/api/v1/media/{media_id}').then((r) => r.json())")
    assert media["sha256"] == hashlib.sha256(VIDEO.read_bytes()).hexdigest()


def test_a_page_reloaded_mid_upload_goes_on_with_its_upload_when_the_file_is_chosen_again(
    bob: tuple[Any, Uploads],
) -> None:
    """The upload's lock (one tab per upload, tabs15) goes with the page that held it: a
    page reloaded mid-upload finds the upload again when the same file is chosen, asks the
    server where it stands and sends only the rest, never a new upload."""
    page, uploads = bob
    start = len(uploads.seen)
    held: list[Any] = []  # the second piece, never sent: the page is reloaded under it
    sent: list[str] = []  # the addresses the pieces went to

    def hold_second_piece(route: Any) -> None:
        if route.request.method == "PATCH":
            sent.append(route.request.url)
            if len(sent) == 2:
                held.append(route)
                return
        route.fallback()  # to the recorder (Uploads.handle)

    pattern = "**/api/v1/media/uploads**"
    caption = f"sent again after a reload {uuid.uuid4().hex[:6]}"
    page.route(pattern, hold_second_piece)
    try:
        compose_video(page, "left by a reload")
        page.click("#queue-button")
        for _ in range(600):  # the first piece is sent, the second on its way
            if held:
                break
            page.wait_for_timeout(50)
        assert held, uploads.seen[start:]
        page.reload()
        page.wait_for_selector(f'{TIKTOK} input[name="target"]:checked', timeout=15_000)
        with contextlib.suppress(Exception):  # (went with the page it belonged to)
            held.pop().abort()
        queue_while_routed(page, pattern, lambda route: route.fallback(), caption)
    finally:
        page.unroute(pattern, hold_second_piece)
    seen = uploads.seen[start:]
    assert [m for m, _ in seen].count("POST") == 1, seen  # one upload, never a second
    assert all(url == sent[0] for url in sent), sent  # every piece went to it
    # after the reload: asked where the server stood, then went on from there
    after = max(i for i, (method, _) in enumerate(seen) if method == "HEAD")
    assert next(int(o or 0) for m, o in seen[after:] if m == "PATCH") == CHUNK, seen
    assert_one_upload_and_one_post(page, seen, caption)
