"""Browser: a post we could not confirm (issue 10) is shown "unconfirmed" with the reason
("check your channel"), and the client settles it from the posts table: "Publish again"
(asked first: it may post twice) queues a new attempt that publishes; "Mark as published"
with a link keeps the link. Telegram's answer is made unknown by the sandbox's 504 proxy
page (no Bot API answer: the post may or may not be out), the state a publisher killed
mid-send leaves too.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.browser

VIDEO = video_file()

QUEUE = """async ([account, caption]) => {
  const media = await (await fetch('/api/v1/media', {
    method: 'POST', headers: { 'content-type': 'video/mp4' },
    body: await (await fetch(window.__video)).blob() })).json();
  for (let attempt = 0; attempt < 50; attempt++) {
    const res = await fetch('/api/v1/posts', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ media_id: media.id,
        targets: [{ account_id: account, telegram: { caption } }] }) });
    if (res.status === 201) return (await res.json()).id;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('the queue never took the post');
}"""


def lose_the_next_answer(stack: EmbeddedStack) -> None:
    """The next sendVideo gets a proxy's 504 page: Telegram's answer is unknown."""
    httpx.post(
        f"{stack.sandbox}/sandbox/telegram/faults",
        json={"responses": [{"status": 504, "body": "html", "method": "sendVideo"}]},
        timeout=5,
    ).raise_for_status()


def queue_video(page: Any, account: str, caption: str) -> str:
    page.evaluate(
        "async (bytes) => { window.__video = window.__video || URL.createObjectURL("
        "new Blob([new Uint8Array(bytes)], { type: 'video/mp4' })); }",
        list(VIDEO.read_bytes()),
    )
    post_id: str = page.evaluate(QUEUE, [account, caption])
    return post_id


def target_of(page: Any, post_id: str) -> dict[str, Any]:
    post: dict[str, Any] = page.evaluate(
        "async (id) => await (await fetch('/api/v1/posts/' + id)).json()", post_id
    )
    return dict(post["targets"][0])


def test_an_unconfirmed_post_is_published_again_or_marked_published_with_its_link(
    stack: EmbeddedStack, sign_in: Any
) -> None:
    sign_in.telegram_channel(-1009876505678, "uncertainchannel", "Uncertain Channel")
    dialogs: list[str] = []

    def answer(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    with sign_in(
        ("telegram", None),
        email="unconfirmed",
        on_dialog=answer,
        viewport={"width": 1280, "height": 900},
    ) as page:
        try:
            account_row = sign_in.link_channel(page, "uncertainchannel")
            unconfirmed_then_settled(stack, page, account_row, dialogs)
        finally:
            httpx.delete(f"{stack.sandbox}/sandbox/telegram/faults", timeout=5)


def unconfirmed_then_settled(
    stack: EmbeddedStack, page: Any, account_row: str, dialogs: list[str]
) -> None:
    """One post published again and one marked published, in the linked channel."""
    account = page.get_attribute(account_row, "data-account") or page.evaluate(
        "async () => (await (await fetch('/api/v1/accounts')).json())"
        ".find((a) => a.platform === 'telegram').id"
    )

    # 1. Publish again: a new attempt, which posts
    lose_the_next_answer(stack)
    first = queue_video(page, account, "Uncertain one")
    row = f'#posts-body tr[data-post="{first}"]'
    page.wait_for_selector(f"{row} .status.unconfirmed", timeout=60_000)
    assert page.text_content(f"{row} .status") == "unconfirmed"
    reason = page.text_content(f"{row} td >> nth=4") or ""
    assert "could not confirm whether the post went out" in reason
    assert "fail" not in reason.lower()
    page.click(f"{row} button:has-text('Publish again')")
    page.wait_for_selector(f"{row} .status.published", timeout=60_000)
    assert dialogs == ["Publish again? If the first post did go out, it will appear twice."]
    again = target_of(page, first)
    assert (again["status"], again["attempts"]) == ("published", 2)

    # 2. Mark as published, with the link where the client saw it
    lose_the_next_answer(stack)
    second = queue_video(page, account, "Uncertain two")
    row = f'#posts-body tr[data-post="{second}"]'
    page.wait_for_selector(f"{row} .status.unconfirmed", timeout=60_000)
    page.fill(f"{row} input[name=remote_url]", "https://t.me/uncertainchannel/77")
    page.click(f"{row} button:has-text('Mark as published')")
    page.wait_for_selector(f"{row} .status.published", timeout=15_000)
    assert page.get_attribute(f"{row} td >> nth=4 >> a", "href") == (
        "https://t.me/uncertainchannel/77"
    )
    marked = target_of(page, second)
    assert (marked["status"], marked["attempts"]) == ("published", 1)
    assert len(dialogs) == 1, "marking it published asks nothing"
