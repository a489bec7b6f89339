"""End to end: the contact form → append-only log → Kafka → notifier → Telegram (sandbox)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from cachalot_testing.stack import EmbeddedStack

pytestmark = pytest.mark.e2e

HOSTILE_MESSAGES = [
    "<b>bold?</b> <script>alert(1)</script> & &amp; &lt;",
    "MarkdownV2 _*[]()~`>#+-=|{}.!\\ specials",
    "emoji 🐋🎬✨ and RTL مرحبا and zero\u200bwidth",
    "line one\nline two\n\n  indented line\tand a tab",
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


@pytest.mark.parametrize("message", HOSTILE_MESSAGES)
def test_submission_reaches_the_operator_exactly_as_typed(
    stack: EmbeddedStack, message: str
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
    assert message in text
    assert "@ann_smith" in text


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
