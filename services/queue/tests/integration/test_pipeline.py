"""Scheduling, dispatch and results through the real broker, on SQLite and PostgreSQL.

The recorder is an independent consumer of what the queue publishes; the
tests play the publisher's part by sending ``posts.result.v1`` events.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from queue_support import GRANT_KEY, QueueServer, Recorder, at_offset, eventually, now, until_status
from sqlalchemy import select

from cachalot_common.events import PublishResult
from cachalot_common.grants import verify_grant
from cachalot_common.topics import POSTS_STATUS
from cachalot_queue.tables import Account, Media, OutboxMessage, Post, Target

pytestmark = pytest.mark.integration


async def dispatched(
    recorder: Recorder, post: dict[str, Any], index: int = 0, count: int = 1
) -> Any:
    target = post["targets"][index]["id"]
    return await eventually(
        lambda: (
            len(recorder.commands(target, reconcile=False)) >= count
            and recorder.commands(target, reconcile=False)
        ),
        timeout=15,
    )


async def status_of(queue: QueueServer, post: dict[str, Any], index: int = 0) -> str:
    return (await queue.target(post["targets"][index]["id"])).status


async def test_posts_scheduled_seconds_ahead_are_dispatched_within_a_second_of_their_time(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    tiktok = await client.account("tiktok")
    posts = [
        await client.queue(youtube=youtube, tiktok=tiktok, at=at_offset(2.0 + i * 0.2))
        for i in range(5)
    ]
    lateness: list[float] = []
    claimed: list[float] = []
    for post in posts:
        due = datetime.fromisoformat(post["scheduled_at"])
        for index in (0, 1):
            [command] = await dispatched(recorder, post, index)
            early_or_late = (command.received - due).total_seconds()
            assert early_or_late >= 0, "never before its time"
            lateness.append(early_or_late)
            target = await queue.target(post["targets"][index]["id"])
            assert target.last_activity_at is not None
            claimed.append((target.last_activity_at - due).total_seconds())
            assert command.key == post["targets"][index]["account_id"]
            assert command.value["attempt"] == 1
            assert command.value["media"]["size"] > 0

    def ms(values: list[float]) -> str:
        return f"max {max(values) * 1000:.0f} ms, median {statistics.median(values) * 1000:.0f} ms"

    print(
        f"\ndispatch lateness ({queue.runtime.engine.dialect.name}): "
        f"received by a consumer {ms(lateness)}; claimed by the scheduler {ms(claimed)}"
    )
    assert max(lateness) < 1.0
    assert recorder.statuses(posts[0]["targets"][0]["id"])[:2] == ["scheduled", "dispatched"]


async def test_a_publish_command_carries_what_the_probe_read_of_the_video(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(tiktok=await client.account("tiktok"))
    [command] = await dispatched(recorder, post)
    media = command.value["media"]
    assert (media["width"], media["height"], media["frame_rate"]) == (360, 640, 30.0)
    assert (media["video_codec"], media["content_type"]) == ("h264", "video/mp4")
    assert media["duration_sec"] == pytest.approx(3.0, abs=0.1)


async def test_a_post_cancelled_before_its_time_is_never_dispatched(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(youtube=await client.account("youtube"), at=at_offset(1.0))
    response = await client.http.post(f"/api/v1/posts/{post['id']}/cancel")
    assert response.status_code == 200
    assert response.json()["targets"][0]["status"] == "cancelled"
    await asyncio.sleep(1.5)
    assert recorder.commands(post["targets"][0]["id"]) == []
    assert await status_of(queue, post) == "cancelled"
    again = await client.http.post(f"/api/v1/posts/{post['id']}/cancel")
    assert again.status_code == 200, "cancelling twice is harmless"


async def test_progress_and_publication_are_recorded_and_announced(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(tiktok=await client.account("tiktok"))
    await dispatched(recorder, post)
    await queue.result(post, type="progress", bytes_sent=1000, bytes_total=4000)
    await until_status(queue, post, "publishing")
    await queue.result(post, type="progress", bytes_sent=3000, bytes_total=4000)
    await eventually(lambda: _bytes(queue, post, 3000))
    await queue.result(
        post,
        type="published",
        remote_id="7300000000000000001",
        remote_url="https://www.tiktok.com/@someone/video/7300000000000000001",
        bytes_total=4000,
    )
    await until_status(queue, post, "published")
    shown = (await client.get(post["id"]))["targets"][0]
    assert shown["remote_id"] == "7300000000000000001"
    assert shown["remote_url"].endswith("7300000000000000001")
    assert shown["bytes_sent"] == 4000
    target = post["targets"][0]["id"]
    await eventually(lambda: "published" in recorder.statuses(target))
    # progress crossing a 5 % step is announced too (the dashboard shows it in percent)
    assert recorder.statuses(target) == [
        "scheduled",
        "dispatched",
        "publishing",
        "publishing",
        "published",
    ]
    progress = [
        (s.value["bytes_sent"], s.value["bytes_total"])
        for s in recorder.seen
        if s.topic == POSTS_STATUS
        and s.value.get("target_id") == str(target)
        and s.value["status"] == "publishing"
    ]
    assert progress == [(1000, 4000), (3000, 4000)]


async def _bytes(queue: QueueServer, post: dict[str, Any], sent: int) -> bool:
    return (await queue.target(post["targets"][0]["id"])).bytes_sent == sent


async def test_a_retryable_failure_is_dispatched_again_after_a_backoff(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(youtube=await client.account("youtube"))
    await dispatched(recorder, post)
    sent_at = now()
    await queue.result(post, type="retryable", code="http_503", reason="YouTube answered 503")
    second = await dispatched(recorder, post, count=2)
    assert [c.value["attempt"] for c in second] == [1, 2]
    waited = (second[1].received - sent_at).total_seconds()
    policy_base = queue.runtime.settings.backoff_base_s
    assert waited >= policy_base / 2, "the backoff was honoured"
    shown = (await client.get(post["id"]))["targets"][0]
    assert shown["attempts"] == 2
    assert "503" in shown["last_error"]
    target = post["targets"][0]["id"]

    def announced() -> list[tuple[str, int]]:
        return [
            (s.value["status"], s.value["attempt"])
            for s in recorder.seen
            if s.topic == POSTS_STATUS and s.value.get("target_id") == target
        ]

    await eventually(lambda: len(announced()) >= 4)
    assert announced() == [
        ("scheduled", 0),
        ("dispatched", 1),
        ("scheduled", 1),
        ("dispatched", 2),
    ], "each status event names the attempt it ends or starts (auth spends old grants by it)"


async def test_retry_after_from_the_platform_is_honoured(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(tiktok=await client.account("tiktok"))
    await dispatched(recorder, post)
    await queue.result(post, type="retryable", code="rate_limit_exceeded", retry_after_s=1.5)
    target = await queue.target(post["targets"][0]["id"])
    await eventually(lambda: _status_is(queue, post, "scheduled"))
    target = await queue.target(post["targets"][0]["id"])
    assert target.due_at is not None
    assert (target.due_at - target.updated_at).total_seconds() >= 1.49
    await dispatched(recorder, post, count=2)


async def _status_is(queue: QueueServer, post: dict[str, Any], status: str) -> bool:
    return await status_of(queue, post) == status


async def test_attempts_are_capped_then_the_target_fails_and_the_operator_is_told(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(youtube=await client.account("youtube"))
    cap = queue.runtime.settings.max_attempts
    for attempt in range(1, cap + 1):
        await dispatched(recorder, post, count=attempt)
        await queue.result(post, type="retryable", code="http_500", reason="YouTube answered 500")
    await until_status(queue, post, "failed")
    shown = (await client.get(post["id"]))["targets"][0]
    assert shown["attempts"] == cap
    assert f"gave up after {cap} attempts" in shown["last_error"]
    # the notifier tells the operator from the failed status; no second notify.v1
    await eventually(lambda: "failed" in recorder.statuses(post["targets"][0]["id"]))
    assert recorder.notices(post["targets"][0]["id"]) == []


async def test_a_permanent_failure_keeps_its_reason_tells_the_operator_and_can_be_retried(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(tiktok=await client.account("tiktok"))
    await dispatched(recorder, post)
    reason = "TikTok: this account may only post privately until the app is audited"
    await queue.result(
        post,
        type="failed",
        code="unaudited_client_can_only_post_to_private_accounts",
        reason=reason,
    )
    await until_status(queue, post, "failed")
    shown = (await client.get(post["id"]))["targets"][0]
    assert shown["last_error"] == reason
    assert shown["last_error_code"] == "unaudited_client_can_only_post_to_private_accounts"
    await eventually(lambda: "failed" in recorder.statuses(post["targets"][0]["id"]))
    assert recorder.notices(post["targets"][0]["id"]) == []  # one message: the notifier's

    cancel = await client.http.post(f"/api/v1/posts/{post['id']}/cancel")
    assert cancel.status_code == 200
    retried = await client.http.post(f"/api/v1/posts/{post['id']}/retry")
    assert retried.status_code == 200
    commands = await dispatched(recorder, post, count=2)
    assert commands[-1].value["attempt"] == 2
    nothing = await client.http.post(f"/api/v1/posts/{post['id']}/retry")
    assert nothing.status_code == 409


async def test_reauth_pauses_the_accounts_targets_and_a_reconnect_resumes_them(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    tiktok = await client.account("tiktok")
    first = await client.queue(tiktok=tiktok)
    later = await client.queue(tiktok=tiktok, at=at_offset(60))
    await dispatched(recorder, first)
    await queue.result(
        first,
        type="failed",
        code="invalid_grant",
        reason="TikTok refused the refresh token",
        reauth_required=True,
    )
    await until_status(queue, first, "paused")
    await until_status(queue, later, "paused")
    assert "reconnect" in (await client.get(first["id"]))["targets"][0]["last_error"]

    await client.account_event(tiktok, "tiktok", "connected")
    await until_status(queue, later, "scheduled")
    commands = await dispatched(recorder, first, count=2)
    assert commands[-1].value["attempt"] == 2


async def test_missing_consent_pauses_with_its_own_reason_and_the_consent_event_resumes(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    tiktok = await client.account("tiktok")
    first = await client.queue(tiktok=tiktok)
    later = await client.queue(tiktok=tiktok, at=at_offset(60))
    await dispatched(recorder, first)
    reason = (
        "TikTok: not posted yet. Confirm in the dashboard that you are 18 or over and give "
        "an email; the post then goes out."
    )
    await queue.result(
        first, type="failed", code="consent_required", reason=reason, reauth_required=True
    )
    await until_status(queue, first, "paused")
    await until_status(queue, later, "paused")
    for post in (first, later):
        target = await queue.target(post["targets"][0]["id"])
        assert (target.last_code, target.last_error) == ("consent_required", reason)
    async with queue.runtime.reader() as session:
        account = await session.get(Account, tiktok, populate_existing=True)
        assert account is not None
        assert account.status == "connected", "not marked for reconnection"
    again = await client.queue(tiktok=tiktok, at=at_offset(60))  # the account is still usable
    assert again["targets"][0]["status"] == "scheduled"

    await client.account_event(tiktok, "tiktok", "connected", reason="Consent given.")
    await until_status(queue, later, "scheduled")
    commands = await dispatched(recorder, first, count=2)
    assert commands[-1].value["attempt"] == 2


async def test_a_telegram_channel_our_bot_cannot_post_to_waits_with_the_fix_not_a_reconnect(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    telegram = await client.account("telegram")
    first = await client.queue(telegram=telegram)
    later = await client.queue(telegram=telegram, at=at_offset(60))
    await dispatched(recorder, first)
    reason = (
        "Telegram: our bot cannot post in your channel: add @cachalot_bot as an administrator "
        "of the channel with the right to post messages, then link the channel again in the "
        "dashboard; the post then goes out."
    )
    await queue.result(
        first, type="failed", code="channel_link_broken", reason=reason, reauth_required=True
    )
    await until_status(queue, first, "paused")
    await until_status(queue, later, "paused")
    for post in (first, later):
        target = await queue.target(post["targets"][0]["id"])
        assert (target.last_code, target.last_error) == ("channel_link_broken", reason)
    await client.account_event(
        telegram, "telegram", "needs_channel", reason=reason, code="channel_link_broken"
    )
    async with queue.runtime.reader() as session:
        account = await session.get(Account, telegram, populate_existing=True)
        assert account is not None
        assert account.status == "needs_channel", "a channel problem is no dead sign-in"
    refused = await client.post_raw(telegram=telegram, at=at_offset(60))
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "targets[0].account_id"
    assert "link a channel" in error["message"]
    assert "reconnect" not in error["message"].lower()

    await client.account_event(telegram, "telegram", "connected", reason="Channel linked.")
    await until_status(queue, later, "scheduled")
    commands = await dispatched(recorder, first, count=2)
    assert commands[-1].value["attempt"] == 2


async def test_consent_given_while_an_attempt_was_in_flight_does_not_leave_it_paused(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    tiktok = await client.account("tiktok")
    post = await client.queue(tiktok=tiktok)
    await dispatched(recorder, post)
    await client.account_event(tiktok, "tiktok", "connected", reason="Consent given.")
    await queue.result(
        post, type="failed", code="consent_required", reason="no consent", reauth_required=True
    )
    commands = await dispatched(recorder, post, count=2)
    assert commands[-1].value["attempt"] == 2


async def test_an_accounts_reauth_event_pauses_and_its_reconnect_resumes(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    post = await client.queue(youtube=youtube, at=at_offset(1.0))
    await client.account_event(
        youtube, "youtube", "reauth_required", reason="Google said invalid_grant"
    )
    await until_status(queue, post, "paused")
    await asyncio.sleep(1.2)
    assert recorder.commands(post["targets"][0]["id"]) == [], "paused targets are not sent"
    await client.account_event(youtube, "youtube", "connected")
    await dispatched(recorder, post)


async def test_a_revoked_account_cancels_its_pending_targets(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    post = await client.queue(youtube=youtube, at=at_offset(60))
    await client.account_event(youtube, "youtube", "revoked")
    await until_status(queue, post, "cancelled")
    assert (await client.get(post["id"]))["targets"][0]["last_error_code"] == "account_revoked"


async def test_a_deleted_account_erases_the_clients_posts_and_videos(
    queue: QueueServer, recorder: Recorder
) -> None:
    """Auth says ``deleted`` when a client erases its data: the queue keeps nothing of it."""
    client, other = queue.client(), queue.client()
    youtube = await client.account("youtube", display_name="Ann's channel")
    tiktok = await client.account("tiktok")
    erased = await client.queue(youtube=youtube, tiktok=tiktok, at=at_offset(60))
    kept = await other.queue(youtube=await other.account("youtube"), at=at_offset(60))
    media_dir = queue.runtime.settings.media_dir
    video = media_dir / f"{erased['media_id']}.mp4"
    assert video.exists()

    await client.account_event(youtube, "youtube", "deleted", reason="the client erased their data")

    assert (await client.http.get(f"/api/v1/posts/{erased['id']}")).status_code == 404
    assert (await client.http.get("/api/v1/posts")).json()["items"] == []
    assert not video.exists()
    async with queue.runtime.reader() as session:
        for table in (Post, Target, Media):
            rows = await session.scalars(select(table).where(table.client_id == client.id))
            assert rows.all() == [], table.__tablename__
        names = await session.scalars(
            select(Account.display_name).where(Account.client_id == client.id)
        )
        assert set(names.all()) == {None}
        unsent = await session.scalars(
            select(OutboxMessage.key).where(OutboxMessage.sent_at.is_(None))
        )
        assert not {str(erased["id"]), str(youtube), str(tiktok)} & set(unsent.all())
    assert (await other.get(kept["id"]))["id"] == kept["id"], "another client's post stays"
    assert (media_dir / f"{kept['media_id']}.mp4").exists()
    await client.account_event(tiktok, "tiktok", "deleted")  # the next account: nothing left


async def test_the_reconciler_resends_a_silent_target_asking_for_a_status_check(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(youtube=await client.account("youtube"))
    await dispatched(recorder, post)
    target = post["targets"][0]["id"]
    checks = await eventually(lambda: recorder.commands(target, reconcile=True), timeout=15)
    assert checks[0].value["attempt"] == 1, "the same attempt, checked, not a new upload"
    assert await status_of(queue, post) == "dispatched"
    await queue.result(
        post, type="published", remote_id="vid123", remote_url="https://youtu.be/vid123"
    )
    await until_status(queue, post, "published")


async def test_results_replayed_from_the_start_change_nothing(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(youtube=await client.account("youtube"))
    await dispatched(recorder, post)
    history = [
        await queue.result(post, type="retryable", code="http_503", reason="YouTube answered 503")
    ]
    await dispatched(recorder, post, count=2)
    history.append(await queue.result(post, type="progress", bytes_sent=10, bytes_total=20))
    history.append(
        await queue.result(
            post,
            type="published",
            remote_id="abc",
            remote_url="https://youtu.be/abc",
            bytes_total=20,
        )
    )
    await until_status(queue, post, "published")
    before = await client.get(post["id"])
    target = post["targets"][0]["id"]
    # the status events travel outbox → Kafka → recorder: see them all before the replay
    await eventually(lambda: "published" in recorder.statuses(target))
    statuses = list(recorder.statuses(target))
    other = await client.queue(youtube=await client.account("youtube"))
    await dispatched(recorder, other)
    for event in history * 2:
        await queue.kafka.send("posts.result.v1", event, key=post["id"])
    # a marker on the same partition (same key), after the replays: once it has taken
    # effect, every replay before it has been read (absence shown by order, not a sleep)
    target_of_other = other["targets"][0]
    marker = PublishResult(
        post_id=other["id"],
        target_id=target_of_other["id"],
        account_id=target_of_other["account_id"],
        platform=target_of_other["platform"],
        attempt=1,
        type="published",
        remote_id="marker",
        remote_url="https://youtu.be/marker",
    )
    await queue.kafka.send("posts.result.v1", marker, key=post["id"])
    await until_status(queue, other, "published")
    # the outbox relays in order: the marker's status event seen means any the replays
    # might have written would have been seen too
    await eventually(lambda: "published" in recorder.statuses(target_of_other["id"]))
    assert await client.get(post["id"]) == before
    assert recorder.statuses(target) == statuses
    assert len(recorder.commands(target, reconcile=False)) == 2


async def test_an_undecodable_result_is_parked_in_the_dlq_and_the_rest_go_on(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(youtube=await client.account("youtube"))
    await dispatched(recorder, post)
    poison = f"not a result {post['id']}".encode()
    await queue.kafka.raw("posts.result.v1", poison, key=post["id"])
    await queue.result(post, type="published", remote_id="ok", remote_url="https://youtu.be/ok")
    await until_status(queue, post, "published")
    parked = await queue.kafka.read_all("posts.result.v1.dlq")
    mine = [m for m in parked if m.value == poison]
    assert mine, "the poison message is in the DLQ"
    headers = dict(mine[0].headers)
    assert headers["x-dlq-source-topic"] == b"posts.result.v1"
    assert mine[0].key == post["id"].encode()


async def test_many_posts_created_at_once_are_all_accepted_and_dispatched_once(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    media = await client.upload()
    body = {
        "media_id": media["id"],
        "targets": [{"account_id": str(youtube), "youtube": {"title": "t"}}],
    }
    responses = await asyncio.gather(*(client.post(body) for _ in range(40)))
    assert [r.status_code for r in responses] == [201] * 40
    targets = [r.json()["targets"][0]["id"] for r in responses]
    await eventually(lambda: all(recorder.commands(t) for t in targets), timeout=30)
    assert all(len(recorder.commands(t, reconcile=False)) == 1 for t in targets)


async def _metrics(queue: QueueServer) -> dict[str, float]:
    """The queue's /metrics as {'name{labels}': value}."""
    async with httpx.AsyncClient(base_url=queue.base_url) as http:
        text = (await http.get("/metrics")).text
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


async def test_metrics_count_depth_publish_latency_and_failures_by_reason(
    queue: QueueServer, recorder: Recorder
) -> None:
    latency = 'cachalot_queue_publish_latency_seconds_count{platform="youtube"}'
    failures = 'cachalot_queue_target_failures_total{platform="youtube",reason="quota_exceeded"}'
    client = queue.client()
    youtube = await client.account("youtube")
    before = await _metrics(queue)
    ok, bad = await client.queue(youtube=youtube), await client.queue(youtube=youtube)
    await dispatched(recorder, ok)
    await dispatched(recorder, bad)
    await queue.result(ok, type="published", remote_id="v1", remote_url="https://youtu.be/v1")
    await queue.result(bad, type="failed", code="quota_exceeded", reason="no quota left")
    await until_status(queue, ok, "published")
    await until_status(queue, bad, "failed")
    after = await _metrics(queue)
    assert after[latency] - before.get(latency, 0) == 1
    assert after[failures] - before.get(failures, 0) == 1
    depth = 'cachalot_queue_targets{platform="youtube",status="published"}'
    await eventually(lambda: _depth_at_least(queue, depth, 1), timeout=5)  # sampled every 0.2 s


async def _depth_at_least(queue: QueueServer, name: str, count: float) -> bool:
    return (await _metrics(queue)).get(name, 0) >= count


# --- a post publishes only to an account its own client holds now (issue 8 item 2) -------


async def fail(queue: QueueServer, recorder: Recorder, post: dict[str, Any]) -> None:
    await dispatched(recorder, post)
    await queue.result(post, type="failed", code="spam_risk", reason="TikTok said no")
    await until_status(queue, post, "failed")


async def test_an_account_connected_by_another_client_cancels_the_old_clients_failed_target(
    queue: QueueServer, recorder: Recorder
) -> None:
    alice, bob = queue.client(), queue.client()
    tiktok = await alice.account("tiktok")
    post = await alice.queue(tiktok=tiktok)
    await fail(queue, recorder, post)

    await bob.account_event(tiktok, "tiktok", "connected")  # auth gave the account to Bob
    await until_status(queue, post, "cancelled")
    shown = (await alice.get(post["id"]))["targets"][0]
    assert shown["last_error_code"] == "account_reassigned"
    assert "someone else" in shown["last_error"]

    retry = await alice.http.post(f"/api/v1/posts/{post['id']}/retry")
    assert retry.status_code == 409
    assert retry.headers["content-type"].startswith("application/problem+json")
    [error] = retry.json()["errors"]
    assert (error["field"], error["type"]) == ("targets[0]", "account_reassigned")
    assert "someone else" in retry.json()["detail"]
    await asyncio.sleep(1.0)
    assert len(recorder.commands(post["targets"][0]["id"])) == 1, "nothing dispatched again"
    assert (await status_of(queue, post)) == "cancelled"


async def test_a_retry_of_a_failed_target_whose_account_changed_hands_is_refused_naming_why(
    queue: QueueServer, recorder: Recorder
) -> None:
    """Even before the projection cancelled it (the retry checks the account itself)."""
    alice, bob = queue.client(), queue.client()
    tiktok = await alice.account("tiktok")
    post = await alice.queue(tiktok=tiktok)
    await fail(queue, recorder, post)
    async with queue.runtime.factory() as session, session.begin():
        account = await session.get(Account, uuid.UUID(str(tiktok)))
        assert account is not None
        account.client_id = bob.id  # the projection moved on; the cancellation not yet

    retry = await alice.http.post(f"/api/v1/posts/{post['id']}/retry")
    assert retry.status_code == 409
    assert retry.json()["errors"][0]["type"] == "account_reassigned"
    assert (await status_of(queue, post)) == "failed"


async def test_disconnecting_cancels_failed_scheduled_and_paused_targets_and_retry_says_why(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    tiktok = await client.account("tiktok")
    youtube = await client.account("youtube")
    failed = await client.queue(tiktok=tiktok)
    await fail(queue, recorder, failed)
    paused = await client.queue(tiktok=tiktok, at=at_offset(60))
    scheduled = await client.queue(youtube=youtube, at=at_offset(60))
    await client.account_event(tiktok, "tiktok", "reauth_required")
    await until_status(queue, paused, "paused")

    await client.account_event(tiktok, "tiktok", "revoked")
    await client.account_event(youtube, "youtube", "revoked")
    for post in (failed, paused, scheduled):
        await until_status(queue, post, "cancelled")
        assert (await client.get(post["id"]))["targets"][0]["last_error_code"] == "account_revoked"
    retry = await client.http.post(f"/api/v1/posts/{failed['id']}/retry")
    assert retry.status_code == 409
    [error] = retry.json()["errors"]
    assert error["type"] == "account_revoked"
    assert "disconnected" in error["message"]


async def test_the_scheduler_skips_targets_whose_account_another_client_holds(
    queue: QueueServer, recorder: Recorder
) -> None:
    alice, bob = queue.client(), queue.client()
    tiktok = await alice.account("tiktok")
    post = await alice.queue(tiktok=tiktok, at=at_offset(1.0))

    async def hand_to(client_id: uuid.UUID) -> None:
        async with queue.runtime.factory() as session, session.begin():
            account = await session.get(Account, uuid.UUID(str(tiktok)))
            assert account is not None
            account.client_id = client_id  # as if only the projection had moved on

    await hand_to(bob.id)
    await asyncio.sleep(2.0)
    assert recorder.commands(post["targets"][0]["id"]) == [], "never on Bob's account"
    assert (await status_of(queue, post)) == "scheduled"
    await hand_to(alice.id)
    [command] = await dispatched(recorder, post)
    assert command.value["client_id"] == str(alice.id)


async def test_a_result_for_a_target_whose_account_changed_hands_cancels_it(
    queue: QueueServer, recorder: Recorder
) -> None:
    alice, bob = queue.client(), queue.client()
    tiktok = await alice.account("tiktok")
    post = await alice.queue(tiktok=tiktok)
    await dispatched(recorder, post)
    await bob.account_event(tiktok, "tiktok", "connected")
    assert (await status_of(queue, post)) == "dispatched", "in flight: its result decides"
    await queue.result(post, type="failed", code="lease_refused", reason="not_owner")
    await until_status(queue, post, "cancelled")
    assert (await alice.get(post["id"]))["targets"][0]["last_error_code"] == "account_reassigned"


async def test_the_reconciler_cancels_a_silent_target_whose_account_was_disconnected(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    tiktok = await client.account("tiktok")
    post = await client.queue(tiktok=tiktok)
    await dispatched(recorder, post)
    await client.account_event(tiktok, "tiktok", "revoked")
    await until_status(queue, post, "cancelled", timeout=20)
    target = post["targets"][0]["id"]
    assert recorder.commands(target, reconcile=True) == [], "no status check on a lost account"


async def test_every_command_carries_a_grant_bound_to_its_target(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    tiktok = await client.account("tiktok")
    post = await client.queue(tiktok=tiktok)
    [command] = await dispatched(recorder, post)
    grant = verify_grant(command.value["grant"], keys=GRANT_KEY.ring())
    target = post["targets"][0]
    assert (grant.post_id, grant.target_id) == (uuid.UUID(post["id"]), uuid.UUID(target["id"]))
    assert (grant.client_id, grant.account_id) == (client.id, tiktok)
    assert (grant.platform, grant.attempt) == ("tiktok", 1)
    assert grant.expires_at - time.time() > 3000


async def test_cancel_and_retry_of_one_target_leave_the_posts_other_targets_alone(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    tiktok = await client.account("tiktok")
    later = await client.queue(youtube=youtube, tiktok=tiktok, at=at_offset(3600))
    first, second = (t["id"] for t in later["targets"])
    base = f"/api/v1/posts/{later['id']}/targets"
    cancelled = await client.http.post(f"{base}/{second}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert [t["status"] for t in cancelled.json()["targets"]] == ["scheduled", "cancelled"]
    missing = await client.http.post(f"{base}/{uuid.uuid4()}/cancel")
    assert missing.status_code == 404
    not_failed = await client.http.post(f"{base}/{first}/retry")
    assert not_failed.status_code == 409
    assert not_failed.json()["detail"] == "Nothing to retry: this target has not failed."
    other = queue.client()
    assert (await other.http.post(f"{base}/{first}/cancel")).status_code == 404

    now_post = await client.queue(youtube=youtube, tiktok=tiktok)
    await dispatched(recorder, now_post, index=0)
    await dispatched(recorder, now_post, index=1)
    for index in (0, 1):
        await queue.result(now_post, index=index, type="failed", code="boom", reason="Broken.")
        await until_status(queue, now_post, "failed", index=index)
    target = now_post["targets"][1]["id"]
    retried = await client.http.post(f"/api/v1/posts/{now_post['id']}/targets/{target}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json()["targets"][0]["status"] == "failed"
    assert retried.json()["targets"][1]["status"] == "scheduled"
    await dispatched(recorder, now_post, index=1, count=2)
    assert await status_of(queue, now_post, 0) == "failed"
    assert len(recorder.commands(now_post["targets"][0]["id"], reconcile=False)) == 1


async def test_a_post_is_rescheduled_and_edited_until_dispatched_by_the_rules_of_creation(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    tiktok = await client.account("tiktok")
    post = await client.queue(youtube=youtube, tiktok=tiktok, at=at_offset(3600))
    path = f"/api/v1/posts/{post['id']}"
    sooner = at_offset(1.0)
    changed = await client.http.patch(
        path,
        json={
            "scheduled_at": sooner.isoformat(),
            "targets": [{"account_id": str(youtube), "youtube": {"title": "A new title"}}],
        },
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["targets"][0]["options"]["title"] == "A new title"
    assert changed.json()["targets"][1]["options"]["privacy_level"] == "SELF_ONLY"
    for bad, field in [
        ({"scheduled_at": at_offset(-3600).isoformat()}, "scheduled_at"),
        ({"targets": [{"account_id": str(uuid.uuid4())}]}, "targets[0].account_id"),
        (
            {"targets": [{"account_id": str(youtube), "youtube": {"title": "x" * 101}}]},
            "targets[0].youtube.title",
        ),
    ]:
        refused = await client.http.patch(path, json=bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["errors"][0]["field"] == field
    assert (await queue.client().http.patch(path, json={})).status_code == 404
    commands = await dispatched(recorder, post, index=0)
    assert commands[0].value["options"]["title"] == "A new title"
    await dispatched(recorder, post, index=1)
    too_late = await client.http.patch(path, json={"scheduled_at": at_offset(3600).isoformat()})
    assert too_late.status_code == 409


async def test_each_open_target_edited_is_announced_again_so_pages_open_elsewhere_read_it(
    queue: QueueServer, recorder: Recorder
) -> None:
    """fresh12: a tab open elsewhere learned of status changes only, never of a new time or
    new settings. An edit is announced as the target's status again (previous == status),
    for each target it changed and no other."""
    client = queue.client()
    youtube = await client.account("youtube")
    tiktok = await client.account("tiktok")
    post = await client.queue(youtube=youtube, tiktok=tiktok, at=at_offset(3600))
    first, second = (t["id"] for t in post["targets"])
    path = f"/api/v1/posts/{post['id']}"
    moved = await client.http.patch(path, json={"scheduled_at": at_offset(7200).isoformat()})
    assert moved.status_code == 200, moved.text
    await eventually(
        lambda: recorder.statuses(first) == recorder.statuses(second) == ["scheduled"] * 2
    )
    edited = await client.http.patch(
        path, json={"targets": [{"account_id": str(youtube), "youtube": {"title": "Renamed"}}]}
    )
    assert edited.status_code == 200, edited.text
    await eventually(lambda: recorder.statuses(first) == ["scheduled"] * 3)
    again = [
        s.value
        for s in recorder.seen
        if s.topic == POSTS_STATUS and s.value.get("target_id") in (first, second)
    ]
    assert [(e["previous"], e["status"]) for e in again[2:]] == [("scheduled", "scheduled")] * 3
    assert recorder.statuses(second) == ["scheduled"] * 2  # the edit named only YouTube


async def test_a_failure_is_announced_naming_the_account_and_the_posts_first_words(
    queue: QueueServer, recorder: Recorder
) -> None:
    """fresh12: the client's e-mail said "Post <uuid> to YouTube". The failed event carries
    the account's name as the client knew it and the caption's start, cut between whole
    characters (60 grapheme clusters and '…'), for the notifier to say which post."""
    client = queue.client()
    tiktok = await client.account("tiktok", display_name="Ann's films")
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    caption = family * 70  # 70 characters a reader sees, 490 code points
    media = await client.upload()
    created = await client.post(
        {
            "media_id": media["id"],
            "targets": [
                {
                    "account_id": str(tiktok),
                    "tiktok": {"privacy_level": "SELF_ONLY", "caption": caption},
                }
            ],
        }
    )
    assert created.status_code == 201, created.text
    post = created.json()
    await dispatched(recorder, post)
    await queue.result(post, type="failed", code="spam_risk", reason="TikTok: refused")
    target = post["targets"][0]["id"]

    def failed() -> list[dict[str, Any]]:
        return [
            s.value
            for s in recorder.seen
            if s.topic == POSTS_STATUS
            and s.value.get("target_id") == target
            and s.value["status"] == "failed"
        ]

    [event] = await eventually(failed)
    assert event["account_name"] == "Ann's films"
    assert event["text_start"] == family * 59 + "…"
    earlier = [
        s.value for s in recorder.seen if s.topic == POSTS_STATUS and s.value["target_id"] == target
    ]
    assert all(e["text_start"] is None for e in earlier if e["status"] != "failed")


async def test_a_failed_article_is_announced_by_its_title(
    queue: QueueServer, recorder: Recorder
) -> None:
    """Read-back of session 8: an article has no caption; its words are its title, which
    the dashboard showed but the failed event (the client's e-mail) did not carry."""
    client = queue.client()
    telegram = await client.account("telegram", display_name="Ann's channel")
    created = await client.post(
        {
            "kind": "article",
            "article": {"title": "Spring in Kazan", "body_html": "<p>Rain, then sun.</p>"},
            "targets": [{"account_id": str(telegram), "telegram": {}}],
        }
    )
    assert created.status_code == 201, created.text
    post = created.json()
    await dispatched(recorder, post)
    await queue.result(post, type="failed", code="bad_request", reason="Telegram: refused")
    target = post["targets"][0]["id"]

    def failed() -> list[dict[str, Any]]:
        return [
            s.value
            for s in recorder.seen
            if s.topic == POSTS_STATUS
            and s.value.get("target_id") == target
            and s.value["status"] == "failed"
        ]

    [event] = await eventually(failed)
    assert (event["account_name"], event["text_start"]) == ("Ann's channel", "Spring in Kazan")


async def test_a_failed_targets_settings_are_edited_and_it_is_queued_again_with_them(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    post = await client.queue(youtube=youtube)
    path = f"/api/v1/posts/{post['id']}"
    await dispatched(recorder, post)
    await queue.result(post, type="failed", code="invalid_title", reason="YouTube: bad title")
    await until_status(queue, post, "failed")

    moved = await client.http.patch(path, json={"scheduled_at": at_offset(3600).isoformat()})
    assert moved.status_code == 409, "a failed post gets no new time, only new settings"
    bad = await client.http.patch(
        path, json={"targets": [{"account_id": str(youtube), "youtube": {"title": ""}}]}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "targets[0].youtube.title"
    edited = await client.http.patch(
        path, json={"targets": [{"account_id": str(youtube), "youtube": {"title": "Mended"}}]}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["targets"][0]["status"] == "failed"
    assert edited.json()["targets"][0]["options"]["title"] == "Mended"
    target = post["targets"][0]["id"]
    again = await client.http.post(f"{path}/targets/{target}/retry")
    assert again.status_code == 200, again.text
    commands = await dispatched(recorder, post, count=2)
    assert commands[1].value["options"]["title"] == "Mended"
    # the new settings were not announced as "failed" again: that would tell the client and
    # the operator of the failure a second time (the notifier reads that status)
    assert recorder.statuses(target).count("failed") == 1


@pytest.mark.parametrize("event", ["needs_channel", "reauth_required"])
async def test_a_telegram_account_without_a_usable_channel_is_refused_when_queued_naming_the_target(
    queue: QueueServer, event: str
) -> None:
    """``reauth_required`` with a channel code: what auth sent before ``needs_channel``."""
    client = queue.client()
    telegram = await client.account("telegram")
    waiting = await client.queue(telegram=telegram, at=at_offset(600))
    await client.account_event(
        telegram, "telegram", event, reason="link a channel first", code="channel_not_linked"
    )
    await until_status(queue, waiting, "paused")
    target = await queue.target(waiting["targets"][0]["id"])
    assert target.last_code == "channel_not_linked"
    refused = await client.post_raw(telegram=telegram)
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert error["field"] == "targets[0].account_id"
    assert "link a channel" in error["message"]
    await client.account_event(telegram, "telegram", "connected")
    await until_status(queue, waiting, "scheduled")
    assert (await client.post_raw(telegram=telegram, at=at_offset(600))).status_code == 201
