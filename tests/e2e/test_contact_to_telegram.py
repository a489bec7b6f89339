"""End to end: the contact form → append-only log → Kafka → notifier → Telegram (sandbox)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

#: (what is typed, what the operator reads): every character as typed, except that an
#: invisible format character is shown as its code (issue 11, Trojan Source, UAX #9).
HOSTILE_MESSAGES = [
    ("<b>bold?</b> <script>alert(1)</script> & &amp; &lt;",) * 2,
    ("MarkdownV2 _*[]()~`>#+-=|{}.!\\ specials",) * 2,
    (
        "emoji 🐋🎬✨ and RTL مرحبا and zero\u200bwidth",
        "emoji 🐋🎬✨ and RTL مرحبا and zero⟨U+200B⟩width",
    ),
    ("line one\nline two\n\n  indented line\tand a tab",) * 2,
]


def _messages(stack: EmbeddedStack) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.sandbox}/sandbox/telegram/messages", timeout=5)
    response.raise_for_status()
    body = response.json()
    return list(body["messages"] if isinstance(body, dict) else body)


def _wait_for_text(stack: EmbeddedStack, needle: str, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = [str(m.get("text", "")) for m in _messages(stack)]
        hits = [t for t in texts if needle in t]
        if hits:
            return hits
        time.sleep(0.2)
    raise AssertionError(f"no operator message containing {needle!r} within {timeout}s")


@pytest.mark.layouts("embedded", "distributed")
@pytest.mark.parametrize(("message", "shown"), HOSTILE_MESSAGES)
def test_submission_reaches_the_operator_as_typed_with_invisible_characters_shown(
    stack: EmbeddedStack, message: str, shown: str
) -> None:
    marker = uuid.uuid4().hex[:10]
    name = f"Ann <i>{marker}</i>"
    response = httpx.post(
        f"{stack.gateway}/api/v1/contact",
        json={
            "name": name,
            "contact": "@ann_smith",
            "category": "video_production",
            "message": message,
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text
    submission_id = response.json()["id"]
    assert uuid.UUID(submission_id)

    texts = _wait_for_text(stack, marker)
    assert len(texts) == 1, "the operator got the submission more than once"
    text = texts[0]
    assert name in text
    assert shown in text
    assert "@ann_smith" in text


@pytest.mark.layouts("embedded", "distributed")
def test_bad_input_through_the_gateway_names_the_field(stack: EmbeddedStack) -> None:
    response = httpx.post(
        f"{stack.gateway}/api/v1/contact",
        json={
            "name": "",
            "contact": "not a contact",
            "category": "video_production",
            "message": "hi",
        },
        timeout=10,
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"name", "contact"} <= fields
