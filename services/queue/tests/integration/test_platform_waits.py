"""Waits a platform asks for use no attempt (issue 11): five 429 hand-backs in a row, with
three attempts allowed, and the post is still dispatched again. SQLite and PostgreSQL; the
tests play the publisher's part."""

from __future__ import annotations

from typing import Any

import pytest
from queue_support import QueueServer, Recorder, eventually

pytestmark = pytest.mark.integration


async def dispatches(recorder: Recorder, post: dict[str, Any], count: int) -> Any:
    target = post["targets"][0]["id"]
    return await eventually(
        lambda: (
            len(recorder.commands(target, reconcile=False)) >= count
            and recorder.commands(target, reconcile=False)
        ),
        timeout=20,
    )


async def test_five_platform_waits_in_a_row_do_not_fail_a_post_allowed_three_attempts(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(tiktok=await client.account("tiktok"))
    for attempt in range(1, 6):  # the queue under test allows 3 attempts
        await dispatches(recorder, post, attempt)
        await queue.result(
            post,
            type="retryable",
            code="rate_limited",
            reason="TikTok's rate limit was reached; will retry.",
            retry_after_s=0.1,
            attempt=attempt,
        )
    commands = await dispatches(recorder, post, 6)
    assert commands[-1].value["attempt"] == 6
    target = await queue.target(post["targets"][0]["id"])
    assert (target.status, target.waits) in {("dispatched", 5), ("publishing", 5)}
    assert "failed" not in recorder.statuses(post["targets"][0]["id"])
    shown = (await client.get(post["id"]))["targets"][0]
    assert "uses no attempt" in (shown["last_error"] or "")
