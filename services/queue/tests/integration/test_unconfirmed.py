"""An outcome nobody can look up (issue 10): the target is ``unconfirmed``, never failed, and
the client settles it: "mark as published" (with an optional link) or "publish again" (a new
attempt). The tests play the publisher's part; SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from queue_support import ApiClient, QueueServer, Recorder, eventually

pytestmark = pytest.mark.integration

UNKNOWN_REASON = (
    "Telegram: we could not confirm whether the post went out (the answer to our request was "
    "lost). Check your channel: if the post is there, mark it as published; if it is not, "
    "publish it again."
)


async def unconfirmed_post(
    queue: QueueServer, recorder: Recorder, client: ApiClient
) -> dict[str, Any]:
    post = await client.queue(telegram=await client.account("telegram"))
    target_id = post["targets"][0]["id"]
    await eventually(lambda: bool(recorder.commands(target_id, reconcile=False)), timeout=15)
    await queue.result(post, type="unknown", code="outcome_unknown", reason=UNKNOWN_REASON)

    async def reached() -> bool:
        return (await queue.target(target_id)).status == "unconfirmed"

    await eventually(reached, timeout=15)
    return post


def action(post: dict[str, Any], name: str) -> str:
    return f"/api/v1/posts/{post['id']}/targets/{post['targets'][0]['id']}/{name}"


async def test_an_unknown_outcome_shows_unconfirmed_with_the_check_reason_and_no_failure(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await unconfirmed_post(queue, recorder, client)
    shown = (await client.get(post["id"]))["targets"][0]
    assert (shown["status"], shown["last_error_code"]) == ("unconfirmed", "outcome_unknown")
    assert shown["last_error"] == UNKNOWN_REASON
    target_id = post["targets"][0]["id"]
    await eventually(lambda: "unconfirmed" in recorder.statuses(target_id))
    assert "failed" not in recorder.statuses(target_id)
    # the post-wide retry never re-posts it: only the explicit "publish again" does
    retry = await client.http.post(f"/api/v1/posts/{post['id']}/retry")
    assert retry.status_code == 409
    assert (await queue.target(target_id)).status == "unconfirmed"


async def test_marking_an_unconfirmed_target_published_keeps_the_link_and_clears_the_reason(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await unconfirmed_post(queue, recorder, client)
    answer = await client.http.post(
        action(post, "mark-published"), json={"url": "https://t.me/mychannel/42"}
    )
    assert answer.status_code == 200, answer.text
    shown = answer.json()["targets"][0]
    assert (shown["status"], shown["remote_url"]) == ("published", "https://t.me/mychannel/42")
    assert shown["last_error"] is None
    assert len(recorder.commands(post["targets"][0]["id"], reconcile=False)) == 1
    # once published, both actions answer 409 (a 200 would read as "the new link was kept")
    again = await client.http.post(
        action(post, "mark-published"), json={"url": "https://t.me/mychannel/43"}
    )
    assert again.status_code == 409, again.text
    assert "is published, not unconfirmed" in again.json()["detail"]
    refused = await client.http.post(action(post, "publish-again"))
    assert refused.status_code == 409
    kept = await client.http.get(f"/api/v1/posts/{post['id']}")
    assert kept.json()["targets"][0]["remote_url"] == "https://t.me/mychannel/42"


async def test_marking_published_without_a_link_is_taken_and_a_non_http_link_is_a_422(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await unconfirmed_post(queue, recorder, client)
    for bad in ("javascript:alert(1)", "https://x/" + "a" * 1000, "not a link"):
        answer = await client.http.post(action(post, "mark-published"), json={"url": bad})
        assert answer.status_code == 422, bad
        assert "url" in answer.text
    answer = await client.http.post(action(post, "mark-published"), json={})
    assert answer.status_code == 200, answer.text
    assert answer.json()["targets"][0]["status"] == "published"


async def test_publishing_again_is_a_new_attempt_with_a_fresh_budget(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await unconfirmed_post(queue, recorder, client)
    target_id = post["targets"][0]["id"]
    answer = await client.http.post(action(post, "publish-again"))
    assert answer.status_code == 200, answer.text
    commands = await eventually(
        lambda: (
            len(recorder.commands(target_id, reconcile=False)) >= 2
            and recorder.commands(target_id, reconcile=False)
        ),
        timeout=15,
    )
    assert commands[-1].value["attempt"] == 2
    target = await queue.target(target_id)
    assert target.budget_start == 1
    await queue.result(post, type="published", remote_id="m2")

    async def published() -> bool:
        return (await queue.target(target_id)).status == "published"

    await eventually(published, timeout=15)


async def test_the_two_actions_answer_409_for_a_target_that_is_not_unconfirmed_and_404_for_another_client(  # noqa: E501
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(telegram=await client.account("telegram"))
    for name in ("mark-published", "publish-again"):
        answer = await client.http.post(action(post, name), json={})
        assert answer.status_code == 409, name
        assert "not unconfirmed" in answer.json()["detail"]
    post = await unconfirmed_post(queue, recorder, client)
    stranger = queue.client()
    for name in ("mark-published", "publish-again"):
        answer = await stranger.http.post(action(post, name), json={})
        assert answer.status_code == 404, name
    assert (await queue.target(post["targets"][0]["id"])).status == "unconfirmed"


async def test_the_operator_console_lists_unconfirmed_targets_of_every_client_with_the_reason(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await unconfirmed_post(queue, recorder, client)
    answer = await queue.operator().get("/api/v1/operator/posts", params={"status": "unconfirmed"})
    assert answer.status_code == 200, answer.text
    [item] = [i for i in answer.json()["items"] if i["post_id"] == post["id"]]
    assert (item["client_id"], item["status"], item["reason"], item["code"]) == (
        str(client.id),
        "unconfirmed",
        UNKNOWN_REASON,
        "outcome_unknown",
    )
    failed = await queue.operator().get("/api/v1/operator/posts", params={"status": "failed"})
    assert post["id"] not in [i["post_id"] for i in failed.json()["items"]]
