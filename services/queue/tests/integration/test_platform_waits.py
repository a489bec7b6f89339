"""Waits a platform asks for use no attempt (issue 11): five 429 hand-backs in a row, with
three attempts allowed, and the post is still dispatched again. SQLite and PostgreSQL; the
tests play the publisher's part."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from queue_support import QueueServer, Recorder, eventually

from cachalot_common.events import PublishResult
from cachalot_common.topics import POSTS_RESULT

pytestmark = pytest.mark.integration


async def ended(client: Any, post: dict[str, Any], status: str) -> dict[str, Any] | None:
    """The post's first target as the API shows it, once its status is ``status``."""
    shown = (await client.get(post["id"]))["targets"][0]
    return dict(shown) if shown["status"] == status else None


async def dispatches(recorder: Recorder, post: dict[str, Any], count: int) -> Any:
    target = post["targets"][0]["id"]
    return await eventually(
        lambda: (
            len(recorder.commands(target, reconcile=False)) >= count
            and recorder.commands(target, reconcile=False)
        ),
        timeout=20,
    )


async def hand_back(
    queue: QueueServer, post: dict[str, Any], window_ends: datetime, occurred: datetime
) -> None:
    """The publisher's lane hands ``post`` back, read at ``occurred``, until the window ends."""
    await queue.result(
        post,
        type="retryable",
        code="rate_limited",
        reason="TikTok allows few init calls per minute; will retry.",
        occurred_at=occurred,
        retry_after_s=(window_ends - occurred).total_seconds(),
    )


async def sent_again_in(recorder: Recorder, posts: list[dict[str, Any]]) -> list[str]:
    """The post ids of ``posts``' second dispatches, in the order they were sent, once all were."""

    def all_sent_again() -> bool:
        return all(
            len(recorder.commands(p["targets"][0]["id"], reconcile=False)) >= 2 for p in posts
        )

    await eventually(all_sent_again, timeout=20)
    ids = {p["id"] for p in posts}
    return [
        s.value["post_id"]
        for s in recorder.seen
        if s.topic.startswith("posts.publish.")
        and s.value.get("attempt") == 2
        and s.value["post_id"] in ids
    ]


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


async def test_a_wait_of_ten_to_the_twelve_seconds_fails_its_post_and_the_next_result_goes_on(
    queue: QueueServer, recorder: Recorder
) -> None:
    # a record as a producer without the contract's bound writes it: its wait put the due
    # time past datetime's range (OverflowError), so the record was redelivered for ever and
    # every result behind it on the partition waited (fresh16)
    client = queue.client()
    account = await client.account("tiktok")
    waiting, behind = await client.queue(tiktok=account), await client.queue(tiktok=account)
    await dispatches(recorder, waiting, 1)
    await dispatches(recorder, behind, 1)
    target = waiting["targets"][0]
    unbounded = PublishResult.model_construct(
        type="retryable",
        post_id=uuid.UUID(waiting["id"]),
        target_id=uuid.UUID(target["id"]),
        account_id=uuid.UUID(target["account_id"]),
        platform="tiktok",
        attempt=1,
        code="rate_limited",
        reason="TikTok's rate limit was reached; will retry.",
        retry_after_s=1e12,
    )
    await queue.kafka.send(POSTS_RESULT, unbounded, key=waiting["id"])
    await queue.result(behind, type="published", remote_id="behind")
    gave_up = await eventually(lambda: ended(client, waiting, "failed"), timeout=20)
    assert "gave up" in (gave_up["last_error"] or ""), gave_up
    await eventually(lambda: ended(client, behind, "published"), timeout=20)


async def test_an_accounts_posts_handed_back_for_one_window_come_back_in_their_order(
    queue: QueueServer, recorder: Recorder
) -> None:
    # the publisher's lane hands an account's posts back one after another as each meets the
    # same rate-limit window (fresh16: TikTok's 6 inits a minute); ended at when each result
    # was read, they came back in any order
    client = queue.client()
    account = await client.account("tiktok")
    posts = [await client.queue(tiktok=account) for _ in range(4)]
    for post in posts:
        await dispatches(recorder, post, 1)
    window_ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    handed = datetime.now(UTC) - timedelta(seconds=0.5)
    for i, post in enumerate(posts):
        await hand_back(queue, post, window_ends, handed + timedelta(milliseconds=100 * i))
    assert await sent_again_in(recorder, posts) == [p["id"] for p in posts]
    for post in posts:
        target = await queue.target(post["targets"][0]["id"])
        assert target.waits == 1


async def test_posts_handed_back_for_one_window_come_back_in_the_order_they_were_scheduled_for(
    queue: QueueServer, recorder: Recorder
) -> None:
    # fresh17: they came back in the order they were *queued* (the claim tied on created_at);
    # here each post is queued before the ones scheduled ahead of it
    client = queue.client()
    account = await client.account("tiktok")
    start = datetime.now(UTC)
    posts = [
        await client.queue(tiktok=account, at=start + timedelta(seconds=1.6 - 0.4 * i))
        for i in range(4)
    ]
    for post in posts:
        await dispatches(recorder, post, 1)
    # six seconds ahead: room for a loaded machine
    window_ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    for post in posts:
        await hand_back(queue, post, window_ends, datetime.now(UTC))
    assert await sent_again_in(recorder, posts) == [p["id"] for p in posts][::-1], (
        "scheduled order: the last queued was scheduled first"
    )


async def test_a_post_due_while_an_earlier_one_of_its_account_waits_goes_out_behind_it(
    queue: QueueServer, recorder: Recorder
) -> None:
    # fresh17: a post scheduled later took the slot freed just before the earlier post's wait
    # (read to the whole second) ended: init order s00..s05, Z, s06. Another account's post is
    # not held.
    client = queue.client()
    account = await client.account("tiktok")
    other = await client.account("tiktok")
    waiting = await client.queue(tiktok=account)
    await dispatches(recorder, waiting, 1)
    # six seconds ahead: room for a loaded machine
    window_ends = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    await hand_back(queue, waiting, window_ends, datetime.now(UTC))
    await eventually(lambda: ended(client, waiting, "scheduled"), timeout=20)
    later = await client.queue(tiktok=account)  # due now, inside the earlier post's wait
    elsewhere = await client.queue(tiktok=other)
    await dispatches(recorder, elsewhere, 1)
    assert datetime.now(UTC) < window_ends, "the test machine was too slow to see the hold"
    assert recorder.commands(later["targets"][0]["id"]) == [], "held behind the waiting post"
    held = await queue.target(later["targets"][0]["id"])
    assert held.status == "scheduled"
    assert held.due_at == (await queue.target(waiting["targets"][0]["id"])).due_at

    await dispatches(recorder, later, 1)
    order = [
        s.value["post_id"]
        for s in recorder.seen
        if s.topic.startswith("posts.publish.")
        and s.value["post_id"] in {waiting["id"], later["id"]}
    ]
    assert order == [waiting["id"], waiting["id"], later["id"]]
