"""Browser: the dashboard follows the server's pushed events (issue 12 item 5).

Bob signs in with the sandbox TikTok; a post is queued and its status is then
changed elsewhere (another tab cancels it). The page must show the change with
no reload and without asking the API for anything: the row is written from the
Server-Sent Event (``GET /api/v1/events``, web/live.js), and no periodic request
is made while the stream is up.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

BOB = "-000sandboxBobOpenId"
QUIET_S = 6.0  # three times the old 2 s polling interval

VIDEO = video_file()
QUEUE_ONE = """async ([bytes, when]) => {
  const list = await (await fetch('/api/v1/accounts')).json();
  const accounts = (Array.isArray(list) ? list : list.items).filter((a) => a.platform === 'tiktok');
  const media = await (await fetch('/api/v1/media', {
    method: 'POST', headers: { 'content-type': 'video/mp4' },
    body: new Blob([new Uint8Array(bytes)], { type: 'video/mp4' }) })).json();
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await fetch('/api/v1/posts', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ media_id: media.id, scheduled_at: when,
        targets: accounts.map((a) => ({
          account_id: a.id, tiktok: { caption: 'pushed', privacy_level: 'SELF_ONLY' } })) }) });
    if (res.status === 201) return await res.json();
    await new Promise((r) => setTimeout(r, 300));
  }
  return null;
}"""


@pytest.fixture(scope="module")
def signed_in(stack: EmbeddedStack, sign_in: Any) -> Iterator[tuple[Any, Any]]:
    """Bob's dashboard (the page under watch) and a second tab of the same session."""
    with sign_in(("tiktok", BOB), email="push") as page:
        page.wait_for_selector('#targets input[data-platform="tiktok"]:checked', timeout=15_000)
        other = page.context.new_page()
        other.goto(f"{stack.gateway}/privacy.html")  # same origin, not the dashboard
        yield page, other


def test_the_connection_state_is_said_to_assistive_technology(signed_in: tuple[Any, Any]) -> None:
    page, _ = signed_in
    page.wait_for_selector('#live-state[data-state="on"]', timeout=15_000)
    assert page.get_attribute("#live-state", "role") == "status"
    assert page.text_content("#live-state") == "Live updates: on"


def test_a_posts_status_changes_on_the_page_with_no_reload_and_no_polling(
    signed_in: tuple[Any, Any],
) -> None:
    page, other = signed_in
    page.wait_for_selector('#live-state[data-state="on"]', timeout=15_000)
    when = (datetime.now().astimezone() + timedelta(days=2)).isoformat()
    post = other.evaluate(QUEUE_ONE, [list(VIDEO.read_bytes()), when])
    assert post is not None, "the queue never took the post"
    target = post["targets"][0]["id"]
    row = f'#posts-body tr[data-target="{target}"]'
    # queued in another tab: the page learns of it from the stream
    page.wait_for_selector(f"{row} .status.scheduled", timeout=15_000)

    page.evaluate("window.__notReloaded = true")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    cancelled = other.evaluate(
        """async ([post, target]) => (await fetch(
          `/api/v1/posts/${post}/targets/${target}/cancel`, { method: 'POST' })).status""",
        [post["id"], target],
    )
    assert cancelled == 200
    page.wait_for_selector(f"{row} .status.cancelled", timeout=10_000)
    page.wait_for_timeout(QUIET_S * 1000)
    assert page.evaluate("window.__notReloaded") is True
    assert requests == [], "the page asked the server instead of following the stream"
    assert page.text_content("#live-state") == "Live updates: on"


def test_after_the_queue_restarts_the_stream_resumes_and_shows_what_happened_meanwhile(
    signed_in: tuple[Any, Any], stack: EmbeddedStack
) -> None:
    """The queue is killed under the open stream (the gateway then answers 503, and the
    browser gives up on that EventSource); meanwhile the account is disconnected in
    another tab. Once the queue is back, the page's new stream resumes from the last
    event id: the account change is replayed and shown, and the posts are not re-read."""
    page, other = signed_in
    page.wait_for_selector('#live-state[data-state="on"]', timeout=15_000)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(f"{request.method} {request.url}"))
    stack.kill("queue")
    page.wait_for_selector('#live-state:not([data-state="on"])', timeout=15_000)
    said = page.text_content("#live-state") or ""
    assert said.startswith(("Live updates: reconnecting", "Live updates: off")), said
    gone = other.evaluate(
        """async () => {
          const list = await (await fetch('/api/v1/accounts')).json();
          const all = Array.isArray(list) ? list : list.items;
          const tiktok = all.find((a) => a.platform === 'tiktok');
          return (await fetch('/api/v1/accounts/' + tiktok.id, { method: 'DELETE' })).status;
        }"""
    )
    assert gone in (200, 202, 204)
    page.wait_for_selector('#live-state[data-state="on"]', timeout=60_000)
    page.wait_for_selector(
        '#accounts-body tr[data-platform="tiktok"] .status.ok', state="detached", timeout=20_000
    )
    # the new stream resumed from the last event id (a stream that could not would
    # say resumed false and re-read the lists); posts are re-read only by the slow
    # refresh while the stream was down (every 30 s)
    assert page.get_attribute("#live-state", "data-resumed") == "true"
    assert any("/api/v1/events" in r for r in requests), requests
