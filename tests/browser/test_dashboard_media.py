"""Browser: a client sees its videos and the room they take, and deletes one to free it.

A client at its media quota could not upload again: nothing deleted a video but
the erasure of the whole client. The dashboard now lists "Your media" with the
usage, and a Delete button per video.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cachalot_testing.media import video_file

pytestmark = pytest.mark.browser

BOB = "-000sandboxBobOpenId"
VIDEO = video_file().read_bytes()

UPLOAD = """async (data) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const response = await fetch("/api/v1/media", {
    method: "POST", headers: { "content-type": "video/mp4" }, body: bytes,
  });
  return response.status === 201 ? (await response.json()).id : response.status;
}"""


def test_a_client_deletes_a_video_from_its_media_list_and_the_usage_drops(
    sign_in: Any,
) -> None:
    # Bob, not the first person: the sign-in test needs Alice never seen before
    with sign_in(("tiktok", BOB), email="media") as page:
        page.wait_for_selector("#media-usage:has-text('used of 20.0 GiB')", timeout=15_000)
        before = page.text_content("#media-usage")

        media_id = page.evaluate(UPLOAD, base64.b64encode(VIDEO).decode())
        assert isinstance(media_id, str), media_id
        page.reload()
        row = f'#media-body tr[data-media="{media_id}"]'
        page.wait_for_selector(row, timeout=15_000)
        assert page.text_content("#media-usage") != before

        page.click(f"{row} button:has-text('Delete')")

        page.wait_for_selector("#flash.ok", timeout=15_000)
        assert page.text_content("#flash") == "Video deleted."
        page.wait_for_selector(row, state="detached", timeout=15_000)
        assert page.text_content("#media-usage") == before
