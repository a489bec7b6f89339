"""Browser: queueing a post updates "Your media" at once (its Posts column stayed 0).

The submit handler refreshed only the posts list; the media list, which counts
the posts made from each video, stayed as it was until the page was reloaded.
Then (CI, 2026-12-02) the library's read sent when the upload ended came back
after the one sent once the post was queued, and put the count back to 0.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from cachalot_testing.media import video_file

pytestmark = pytest.mark.browser

BOB = "-000sandboxBobOpenId"
VIDEO = video_file()


def test_queueing_a_post_counts_it_in_your_media_without_a_reload(
    sign_in: Any,
) -> None:
    with sign_in(("tiktok", BOB), email="queue") as page:
        page.wait_for_selector('#targets input[data-platform="tiktok"]:checked', timeout=15_000)

        page.set_input_files("#video", str(VIDEO))
        page.fill('#targets [data-platform="tiktok"] [name="caption"]', "counted at once")
        page.wait_for_function(
            "document.querySelector('#targets .target[data-platform=\"tiktok\"] .tt-who strong')"
            " || document.querySelector('#targets [data-error=\"creator\"]').textContent",
            timeout=15_000,
        )
        assert page.text_content('#targets [data-error="creator"]') == ""
        page.select_option(
            '#targets .target[data-platform="tiktok"] [name="privacy_level"]', "SELF_ONLY"
        )
        ahead = datetime.now() + timedelta(days=2)  # nothing is published meanwhile
        page.fill("#when", ahead.strftime("%Y-%m-%dT%H:%M"))
        # the library's read sent as the upload ends is answered before the post is sent
        # (the post waits for that answer) and handed to the page only after Queue's read
        late: list[tuple[Any, Any]] = []
        posts_waiting: list[Any] = []

        def media_list(route: Any) -> None:
            if late or route.request.method != "GET":
                route.continue_()
                return
            late.append((route, route.fetch()))
            for waiting in posts_waiting:
                waiting.continue_()

        def post(route: Any) -> None:
            if late or route.request.method != "POST":
                route.continue_()
            else:
                posts_waiting.append(route)

        page.route("**/api/v1/media?limit=100", media_list)
        page.route("**/api/v1/posts", post)
        sign_in.queue_composed(page)

        posts_cell = '#media-body tr:first-child td[data-label="Posts"]'
        page.wait_for_selector(f"{posts_cell}:has-text('1 (1 not finished)')", timeout=5_000)
        assert late, "the page did not read its media when the upload ended"
        sign_in.deliver_held(page, late, "cachalot:media-read")
        assert page.text_content(posts_cell) == "1 (1 not finished)"
