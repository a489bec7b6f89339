"""Deliveries and proposals (issue 13 item 2): the operator delivers into a client's library
and proposes; only the client's approval queues a post; both sides read the trail."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from queue_support import VIDEO, ApiClient, QueueServer, Recorder, at_offset, eventually, now
from sqlalchemy import delete, func, or_, select, text, update

from cachalot_queue.retention import MediaRetention
from cachalot_queue.tables import (
    Account,
    AuditEntry,
    Delivery,
    Media,
    OutboxMessage,
    Proposal,
    Target,
)
from cachalot_testing.roles import WRONG_ROLE, wrong_role_requests

pytestmark = pytest.mark.integration


async def operator_upload(operator: httpx.AsyncClient, client: ApiClient) -> dict[str, Any]:
    answer = await operator.post(
        "/api/v1/operator/media",
        params={"client_id": str(client.id)},
        content=VIDEO,
        headers={"Content-Type": "video/mp4"},
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


async def deliver(
    operator: httpx.AsyncClient, client: ApiClient, media_id: str, *proposals: dict[str, Any]
) -> httpx.Response:
    return await operator.post(
        "/api/v1/operator/deliveries",
        json={
            "client_id": str(client.id),
            "media_id": media_id,
            "note": "Your November video",
            "proposals": list(proposals),
        },
    )


def tiktok(account: uuid.UUID, caption: str = "from the factory") -> dict[str, Any]:
    return {
        "account_id": str(account),
        "tiktok": {"caption": caption, "privacy_level": "PUBLIC_TO_EVERYONE"},
    }


async def delivered(queue: QueueServer) -> tuple[ApiClient, httpx.AsyncClient, dict[str, Any]]:
    """A client with a TikTok account and a delivery of one video with one proposal."""
    client = queue.client()
    account = await client.account("tiktok")
    operator = queue.operator()
    media = await operator_upload(operator, client)
    answer = await deliver(
        operator, client, media["id"], {"targets": [tiktok(account)], "scheduled_at": None}
    )
    assert answer.status_code == 201, answer.text
    return client, operator, dict(answer.json())


async def test_an_operators_upload_lands_in_the_clients_library_and_its_proposals_in_its_dashboard(
    queue: QueueServer,
) -> None:
    client = queue.client()
    account = await client.account("tiktok")
    operator = queue.operator()
    media = await operator_upload(operator, client)
    mine = (await client.http.get(f"/api/v1/media/{media['id']}")).json()
    assert mine["id"] == media["id"]  # the client's own file, on its quota

    later = at_offset(3600).isoformat()
    answer = await deliver(
        operator,
        client,
        media["id"],
        {"targets": [tiktok(account, "first idea")], "scheduled_at": later},
        {"targets": [tiktok(account, "second idea")]},
    )
    assert answer.status_code == 201, answer.text
    listed = (await client.http.get("/api/v1/posts/proposals")).json()["items"]
    [delivery] = [d for d in listed if d["id"] == answer.json()["id"]]
    assert delivery["media_id"] == media["id"]
    assert delivery["note"] == "Your November video"
    assert [p["status"] for p in delivery["proposals"]] == ["proposed", "proposed"]
    assert delivery["proposals"][0]["targets"][0]["tiktok"]["caption"] == "first idea"
    assert [(a["action"], a["actor_role"]) for a in delivery["audit"]] == [
        ("delivered", "operator"),
        ("proposed", "operator"),
        ("proposed", "operator"),
    ]
    # nothing is queued until the client approves
    assert (await client.http.get("/api/v1/posts")).json()["items"] == []


async def test_the_operators_telegram_name_is_recorded_with_their_acts_for_both_sides(
    queue: QueueServer,
) -> None:
    """Auth puts the operator's Telegram name in their session; the queue records it with
    what they deliver and propose, so the trail and the deliveries name them."""
    client = queue.client()
    account = await client.account("tiktok")
    operator = queue.operator(name="Карина Сэндбоксова")
    media = await operator_upload(operator, client)
    answer = await deliver(operator, client, media["id"], {"targets": [tiktok(account)]})
    assert answer.status_code == 201, answer.text
    assert answer.json()["operator_name"] == "Карина Сэндбоксова"
    listed = (await client.http.get("/api/v1/posts/proposals")).json()["items"]
    [delivery] = [d for d in listed if d["id"] == answer.json()["id"]]
    assert delivery["operator_name"] == "Карина Сэндбоксова"
    assert [(a["action"], a["actor_name"]) for a in delivery["audit"]] == [
        ("delivered", "Карина Сэндбоксова"),
        ("proposed", "Карина Сэндбоксова"),
    ]
    theirs = (await operator.get("/api/v1/operator/deliveries")).json()["items"]
    [same] = [d for d in theirs if d["id"] == answer.json()["id"]]
    assert same["operator_name"] == "Карина Сэндбоксова"
    nameless = queue.operator()  # a session from before names: the id is all there is
    again = await deliver(nameless, client, media["id"], {"targets": [tiktok(account)]})
    assert again.json()["operator_name"] is None


async def test_a_proposal_breaking_a_platform_rule_is_a_422_naming_the_proposals_field(
    queue: QueueServer,
) -> None:
    client = queue.client()
    account = await client.account("tiktok")
    operator = queue.operator()
    media = await operator_upload(operator, client)
    answer = await deliver(
        operator,
        client,
        media["id"],
        {"targets": [tiktok(account)]},
        {"targets": [tiktok(account, "x" * 2201)], "scheduled_at": at_offset(-3600).isoformat()},
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"proposals[1].targets[0].tiktok.caption", "proposals[1].scheduled_at"}

    stranger = queue.client()
    theirs = await stranger.upload()
    answer = await deliver(operator, client, theirs["id"], {"targets": [tiktok(account)]})
    assert answer.status_code == 422
    assert {e["field"] for e in answer.json()["errors"]} == {"media_id"}

    nobody = await operator.post(
        "/api/v1/operator/media",
        params={"client_id": str(uuid.uuid4())},
        content=VIDEO,
        headers={"Content-Type": "video/mp4"},
    )
    assert nobody.status_code == 404
    assert nobody.json()["errors"][0]["field"] == "client_id"
    assert nobody.json()["errors"][0]["in"] == "query"
    # the delivery names its body's client_id as a body field (it said "query")
    nobody = await operator.post(
        "/api/v1/operator/deliveries",
        json={
            "client_id": str(uuid.uuid4()),
            "media_id": media["id"],
            "proposals": [{"targets": [tiktok(account)]}],
        },
    )
    assert nobody.status_code == 404, nobody.text
    assert nobody.json()["errors"][0] == {
        "field": "client_id",
        "in": "body",
        "message": "no such client",
    }


async def test_a_file_an_open_proposal_names_is_held_until_the_client_answers_it(
    queue: QueueServer,
) -> None:
    client, _, delivery = await delivered(queue)
    media_id = delivery["media_id"]
    [proposal] = [p["id"] for p in delivery["proposals"]]
    listed = (await client.http.get(f"/api/v1/media/{media_id}")).json()
    assert listed["proposals_waiting"] == [proposal]
    assert listed["needed_by"] == []

    held = await client.http.delete(f"/api/v1/media/{media_id}")
    assert held.status_code == 409, held.text
    assert held.json()["proposals"] == [proposal]
    assert held.json()["posts"] == []
    assert proposal in held.json()["detail"]
    # sent back, the proposal can still be answered anew: still held
    asked = await client.http.post(
        f"/api/v1/posts/proposals/{proposal}/request-changes", json={"comment": "shorter"}
    )
    assert asked.status_code == 200, asked.text
    assert (await client.http.delete(f"/api/v1/media/{media_id}")).status_code == 409
    # approved: the post holds it now (as any queued post), then the approval succeeds
    approved = await client.http.post(f"/api/v1/posts/proposals/{proposal}/approve")
    assert approved.status_code == 200, approved.text
    after = await client.http.delete(f"/api/v1/media/{media_id}")
    assert after.status_code == 409, after.text
    assert after.json()["posts"] == [approved.json()["post_id"]]
    assert after.json()["proposals"] == []


async def test_approving_queues_the_post_once_as_the_clients_act_and_tells_the_operator(
    queue: QueueServer, recorder: Recorder
) -> None:
    client, operator, delivery = await delivered(queue)
    proposal = delivery["proposals"][0]["id"]
    first = await client.http.post(f"/api/v1/posts/proposals/{proposal}/approve")
    again = await client.http.post(f"/api/v1/posts/proposals/{proposal}/approve")
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["status"] == "approved"
    post_id = first.json()["post_id"]
    assert again.json()["post_id"] == post_id
    posts = (await client.http.get("/api/v1/posts")).json()["items"]
    assert [p["id"] for p in posts] == [post_id]
    assert posts[0]["targets"][0]["options"]["caption"] == "from the factory"

    [notice] = await eventually(lambda: recorder.answers(proposal))
    assert notice.key == str(client.id)
    assert notice.value["answer"] == "approved"
    assert notice.value["post_id"] == post_id
    assert notice.value["operator_id"] == delivery["operator_id"]
    assert notice.value["platforms"] == ["tiktok"]

    post = await client.get(post_id)
    await eventually(lambda: recorder.commands(post["targets"][0]["id"]), timeout=15)
    # the publisher had its lease from auth after the dispatch: the trail says when
    leased_at = datetime.now(UTC)
    dispatched = recorder.commands(post["targets"][0]["id"])[0].value["occurred_at"]
    assert leased_at > datetime.fromisoformat(dispatched)
    await queue.result(post, type="progress", bytes_sent=1, bytes_total=9, leased_at=leased_at)
    await queue.result(
        post,
        type="published",
        remote_id="v1",
        remote_url="https://t.example/v1",
        leased_at=leased_at,
    )

    async def trail_until_published() -> list[dict[str, Any]] | None:
        answer = await client.http.get(f"/api/v1/posts/{post_id}/audit")
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items if items[-1]["action"] == "published" else None

    items = await eventually(trail_until_published, timeout=15)
    assert [(i["action"], i["actor_role"]) for i in items] == [
        ("delivered", "operator"),
        ("proposed", "operator"),
        ("approved", "client"),
        ("leased", "queue"),
        ("published", "queue"),
    ]
    assert items[0]["actor_id"] == delivery["operator_id"]
    assert items[2]["actor_id"] == str(client.id)
    assert datetime.fromisoformat(items[3]["at"]).replace(tzinfo=UTC) == leased_at  # once
    assert items[4]["detail"]["remote_url"] == "https://t.example/v1"
    seen = (await operator.get(f"/api/v1/operator/posts/{post_id}/audit")).json()["items"]
    assert seen == items  # the operator reads the same trail


async def test_an_edit_sent_with_the_approval_is_in_the_post_when_both_are_answered_200(
    queue: QueueServer,
) -> None:
    """fresh13c: an edit and an approval sent at once were both answered 200 and the proposal
    read the edited caption while the queued post kept the old one (4 of 4 pairs): the
    approval read the proposal, queued the post, then recorded itself in a second step."""
    for round_ in range(4):
        client, _, delivery = await delivered(queue)
        proposal = delivery["proposals"][0]["id"]
        account = uuid.UUID(delivery["proposals"][0]["targets"][0]["account_id"])
        edit, approve = await asyncio.gather(
            client.http.patch(
                f"/api/v1/posts/proposals/{proposal}",
                json={"targets": [tiktok(account, f"edited {round_}")]},
            ),
            client.http.post(f"/api/v1/posts/proposals/{proposal}/approve"),
        )
        assert approve.status_code == 200, approve.text
        post = await client.get(approve.json()["post_id"])
        caption = post["targets"][0]["options"]["caption"]
        listed = (await client.http.get("/api/v1/posts/proposals")).json()["items"]
        (shown,) = [p for d in listed for p in d["proposals"] if p["id"] == proposal]
        if edit.status_code == 200:  # the edit landed first: the post holds it
            assert caption == f"edited {round_}"
        else:  # the approval landed first: the edit was refused, nothing changed
            assert edit.status_code == 409, edit.text
            assert caption == "from the factory"
        assert shown["targets"][0]["tiktok"]["caption"] == caption


async def test_a_proposal_approved_after_its_suggested_time_is_queued_for_now_and_the_trail_says_so(
    queue: QueueServer,
) -> None:
    client = queue.client()
    account = await client.account("tiktok")
    operator = queue.operator()
    media = await operator_upload(operator, client)
    answer = await deliver(
        operator,
        client,
        media["id"],
        {"targets": [tiktok(account)], "scheduled_at": at_offset(3600).isoformat()},
    )
    assert answer.status_code == 201, answer.text
    proposal = answer.json()["proposals"][0]["id"]
    suggested = datetime.now(UTC) - timedelta(hours=2)  # the client answers two hours late
    async with queue.runtime.factory() as session, session.begin():
        await session.execute(
            update(Proposal)
            .where(Proposal.id == uuid.UUID(proposal))
            .values(scheduled_at=suggested)
        )
    before = datetime.now(UTC)
    approved = await client.http.post(f"/api/v1/posts/proposals/{proposal}/approve")
    assert approved.status_code == 200, approved.text
    post = await client.get(approved.json()["post_id"])
    assert datetime.fromisoformat(post["scheduled_at"]) >= before - timedelta(seconds=1)
    trail = (await client.http.get(f"/api/v1/posts/{post['id']}/audit")).json()["items"]
    [entry] = [e for e in trail if e["action"] == "approved"]
    assert entry["detail"]["late"] is True
    assert datetime.fromisoformat(entry["detail"]["suggested_at"]) == suggested
    queued_for = datetime.fromisoformat(entry["detail"]["scheduled_at"])
    assert queued_for == datetime.fromisoformat(post["scheduled_at"])


async def test_the_client_edits_and_asks_for_changes_and_the_operator_sees_the_comment(
    queue: QueueServer, recorder: Recorder
) -> None:
    client, operator, delivery = await delivered(queue)
    proposal = delivery["proposals"][0]["id"]
    account = delivery["proposals"][0]["targets"][0]["account_id"]
    bad = await client.http.patch(
        f"/api/v1/posts/proposals/{proposal}",
        json={
            "targets": [
                {
                    "account_id": account,
                    "tiktok": {"caption": "y" * 2201, "privacy_level": "SELF_ONLY"},
                }
            ]
        },
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "targets[0].tiktok.caption"
    when = (at_offset(7200) + timedelta(seconds=1)).isoformat()
    edited = await client.http.patch(
        f"/api/v1/posts/proposals/{proposal}",
        json={
            "targets": [
                {"account_id": account, "tiktok": {"caption": "mine", "privacy_level": "SELF_ONLY"}}
            ],
            "scheduled_at": when,
        },
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["targets"][0]["tiktok"]["caption"] == "mine"

    asked = await client.http.post(
        f"/api/v1/posts/proposals/{proposal}/request-changes",
        json={"comment": "Please cut the intro"},
    )
    assert asked.status_code == 200, asked.text
    empty = await client.http.post(
        f"/api/v1/posts/proposals/{proposal}/request-changes", json={"comment": ""}
    )
    assert empty.status_code == 422
    assert empty.json()["errors"][0]["field"] == "comment"
    [answer] = await eventually(lambda: recorder.answers(proposal))
    assert answer.value["answer"] == "changes_requested"
    assert answer.value["comment"] == "Please cut the intro"

    listed = (
        await operator.get("/api/v1/operator/deliveries", params={"client_id": str(client.id)})
    ).json()["items"]
    [seen] = listed
    assert seen["proposals"][0]["status"] == "changes_requested"
    assert seen["proposals"][0]["comment"] == "Please cut the intro"
    assert [a["action"] for a in seen["audit"]][-2:] == ["edited", "changes_requested"]

    # the operator answers with a new proposal; the client sees both
    again = await operator.post(
        f"/api/v1/operator/deliveries/{delivery['id']}/proposals",
        json={
            "targets": [
                {
                    "account_id": account,
                    "tiktok": {"caption": "short", "privacy_level": "SELF_ONLY"},
                }
            ]
        },
    )
    assert again.status_code == 201, again.text
    assert [p["status"] for p in again.json()["proposals"]] == ["superseded", "proposed"]
    wrong = await operator.post(
        f"/api/v1/operator/deliveries/{delivery['id']}/proposals",
        json={
            "targets": [
                {
                    "account_id": account,
                    "tiktok": {"caption": "z" * 2201, "privacy_level": "SELF_ONLY"},
                }
            ]
        },
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "targets[0].tiktok.caption"
    mine = (await client.http.get("/api/v1/posts/proposals")).json()["items"]
    assert len(mine[0]["proposals"]) == 2

    # the client approves the new one; then it is closed
    newer = again.json()["proposals"][1]["id"]
    approved = await client.http.post(f"/api/v1/posts/proposals/{newer}/approve")
    assert approved.status_code == 200, approved.text
    late = await client.http.patch(f"/api/v1/posts/proposals/{newer}", json={"scheduled_at": when})
    assert late.status_code == 409
    other = queue.client()
    assert (await other.http.post(f"/api/v1/posts/proposals/{proposal}/approve")).status_code == 404


async def test_a_proposal_sent_back_and_answered_anew_is_superseded_so_the_content_posts_once(
    queue: QueueServer,
) -> None:
    client, operator, delivery = await delivered(queue)
    first = delivery["proposals"][0]["id"]
    account = delivery["proposals"][0]["targets"][0]["account_id"]
    asked = await client.http.post(
        f"/api/v1/posts/proposals/{first}/request-changes", json={"comment": "Shorter, please"}
    )
    assert asked.status_code == 200, asked.text
    again = await operator.post(
        f"/api/v1/operator/deliveries/{delivery['id']}/proposals",
        json={"targets": [tiktok(uuid.UUID(account), "short")]},
    )
    assert again.status_code == 201, again.text
    second = again.json()["proposals"][1]["id"]
    assert [p["status"] for p in again.json()["proposals"]] == ["superseded", "proposed"]

    old = await client.http.post(f"/api/v1/posts/proposals/{first}/approve")
    assert old.status_code == 409, old.text
    assert old.json()["title"] == "Superseded"
    assert old.json()["superseded_by"] == second
    assert "superseded" in old.json()["detail"]
    for late in (
        client.http.patch(f"/api/v1/posts/proposals/{first}", json={"scheduled_at": None}),
        client.http.post(
            f"/api/v1/posts/proposals/{first}/request-changes", json={"comment": "and again"}
        ),
    ):
        assert (await late).status_code == 409
    new = await client.http.post(f"/api/v1/posts/proposals/{second}/approve")
    assert new.status_code == 200, new.text
    assert len((await client.http.get("/api/v1/posts")).json()["items"]) == 1
    listed = (await client.http.get("/api/v1/posts/proposals")).json()["items"][0]
    assert ("superseded", "operator") in {(a["action"], a["actor_role"]) for a in listed["audit"]}


async def test_proposals_made_side_by_side_on_purpose_can_each_be_approved(
    queue: QueueServer,
) -> None:
    client = queue.client()
    account = await client.account("tiktok")
    operator = queue.operator()
    media = await operator_upload(operator, client)
    answer = await deliver(
        operator,
        client,
        media["id"],
        {"targets": [tiktok(account, "morning")], "scheduled_at": None},
        {"targets": [tiktok(account, "evening")], "scheduled_at": at_offset(7200).isoformat()},
    )
    assert answer.status_code == 201, answer.text
    ids = [p["id"] for p in answer.json()["proposals"]]
    more = await operator.post(
        f"/api/v1/operator/deliveries/{answer.json()['id']}/proposals",
        json={"targets": [tiktok(account, "night")]},
    )
    assert [p["status"] for p in more.json()["proposals"]] == ["proposed"] * 3  # none sent back
    for proposal in ids:
        approved = await client.http.post(f"/api/v1/posts/proposals/{proposal}/approve")
        assert approved.status_code == 200, approved.text
    assert len((await client.http.get("/api/v1/posts")).json()["items"]) == 2


@pytest.mark.parametrize("comment", ["   ", "\u200b\u200b", "\u3164", " \n\t\u2060 "])
async def test_a_request_for_changes_with_nothing_visible_is_a_422_naming_the_comment(
    queue: QueueServer, comment: str
) -> None:
    client, _, delivery = await delivered(queue)
    proposal = delivery["proposals"][0]["id"]
    blank = await client.http.post(
        f"/api/v1/posts/proposals/{proposal}/request-changes", json={"comment": comment}
    )
    assert blank.status_code == 422, blank.text
    assert [e["field"] for e in blank.json()["errors"]] == ["comment"]
    listed = (await client.http.get("/api/v1/posts/proposals")).json()["items"][0]
    assert listed["proposals"][0]["status"] == "proposed"


async def test_every_act_on_a_proposal_is_told_on_proposals_v1_for_both_pages_live_feeds(
    queue: QueueServer, recorder: Recorder
) -> None:
    client, operator, delivery = await delivered(queue)
    first = delivery["proposals"][0]["id"]
    account = uuid.UUID(delivery["proposals"][0]["targets"][0]["account_id"])
    edited = await client.http.patch(
        f"/api/v1/posts/proposals/{first}", json={"targets": [tiktok(account, "shorter")]}
    )
    assert edited.status_code == 200, edited.text
    sent_back = await client.http.post(
        f"/api/v1/posts/proposals/{first}/request-changes", json={"comment": "Shorter, please"}
    )
    assert sent_back.status_code == 200, sent_back.text
    path = f"/api/v1/operator/deliveries/{delivery['id']}/proposals"
    added = await operator.post(path, json={"targets": [tiktok(account, "take two")]})
    assert added.status_code == 201, added.text
    second = added.json()["proposals"][-1]["id"]
    approved = await client.http.post(f"/api/v1/posts/proposals/{second}/approve")
    assert approved.status_code == 200, approved.text

    def told(proposal: str, count: int) -> list[str]:
        changes = recorder.proposal_changes(proposal)
        return changes if len(changes) >= count else []

    changes = ["proposed", "edited", "changes_requested", "superseded"]
    assert await eventually(lambda: told(first, 4), timeout=15) == changes
    assert await eventually(lambda: told(second, 2), timeout=15) == ["proposed", "approved"]
    [event] = [
        s.value
        for s in recorder.seen
        if s.value.get("proposal_id") == second and s.value.get("change") == "approved"
    ]
    assert event["post_id"] == approved.json()["post_id"]
    assert event["client_id"] == str(client.id)
    assert event["operator_id"] == delivery["operator_id"]
    assert "Shorter" not in str([s.value for s in recorder.seen if s.topic == "proposals.v1"])


async def test_a_delivery_holds_at_most_ten_proposals_counting_those_added_later(
    queue: QueueServer,
) -> None:
    client, operator, delivery = await delivered(queue)
    account = uuid.UUID(delivery["proposals"][0]["targets"][0]["account_id"])
    path = f"/api/v1/operator/deliveries/{delivery['id']}/proposals"
    for n in range(9):
        added = await operator.post(path, json={"targets": [tiktok(account, f"take {n}")]})
        assert added.status_code == 201, added.text
    assert len(added.json()["proposals"]) == 10
    over = await operator.post(path, json={"targets": [tiktok(account, "one more")]})
    assert over.status_code == 422, over.text
    assert [e["field"] for e in over.json()["errors"]] == ["proposals"]
    listed = (await client.http.get("/api/v1/posts/proposals")).json()["items"][0]
    assert len(listed["proposals"]) == 10


async def test_the_trail_of_a_failed_then_cancelled_post_records_how_each_attempt_ended(
    queue: QueueServer, recorder: Recorder
) -> None:
    client, _, delivery = await delivered(queue)
    proposal = delivery["proposals"][0]["id"]
    approved = await client.http.post(f"/api/v1/posts/proposals/{proposal}/approve")
    post = await client.get(approved.json()["post_id"])
    await eventually(lambda: recorder.commands(post["targets"][0]["id"]), timeout=15)
    # auth refused the lease (the publisher had none): no "leased" step for that attempt
    await queue.result(post, type="failed", code="spam_risk", reason="TikTok: spam risk")

    async def trail_until(action: str) -> list[dict[str, Any]] | None:
        answer = await client.http.get(f"/api/v1/posts/{post['id']}/audit")
        items: list[dict[str, Any]] = answer.json()["items"]
        return items if items[-1]["action"] == action else None

    items = await eventually(lambda: trail_until("failed"), timeout=15)
    assert [i["action"] for i in items][-2:] == ["approved", "failed"]
    assert items[-1]["actor_role"] == "queue"
    assert items[-1]["detail"]["code"] == "spam_risk"
    assert items[-1]["detail"]["reason"] == "TikTok: spam risk"
    # the account revoked: the failed target is cancelled (it will never be retried)
    account = uuid.UUID(post["targets"][0]["account_id"])
    await client.account_event(account, "tiktok", "revoked", reason="access revoked")
    items = await eventually(lambda: trail_until("cancelled"), timeout=15)
    assert [i["action"] for i in items][-3:] == ["approved", "failed", "cancelled"]
    assert items[-1]["detail"]["reason"]


async def test_an_operator_session_can_never_queue_approve_edit_or_publish_a_clients_post(
    queue: QueueServer,
) -> None:
    client, operator, delivery = await delivered(queue)
    proposal = delivery["proposals"][0]["id"]
    document = (await operator.get("/openapi.json")).json()
    writes = [
        r
        for r in wrong_role_requests(document)
        if r.role == "client" and r.method in {"POST", "PATCH", "PUT", "DELETE"}
    ]
    paths = {(r.method, r.path.rsplit("/", 1)[-1]) for r in writes}
    assert {("POST", "approve"), ("POST", "request-changes"), ("POST", "posts")} <= paths
    assert ("POST", "retry") in paths
    assert "PATCH" in {r.method for r in writes if "/proposals/" in r.path}  # the client's edit
    for request in writes:
        answer = await operator.request(
            request.method, request.path, headers=request.headers, content=request.body
        )
        assert answer.status_code == 403, (request, answer.text)
        assert answer.json()["type"] == WRONG_ROLE
    # with the real proposal's id too
    for path in (f"{proposal}/approve", f"{proposal}/request-changes"):
        answer = await operator.post(f"/api/v1/posts/proposals/{path}", json={"comment": "x"})
        assert answer.status_code == 403
    answer = await operator.post(
        "/api/v1/posts",
        json={"media_id": delivery["media_id"], "targets": delivery["proposals"][0]["targets"]},
    )
    assert answer.status_code == 403
    # the resumable upload (tus, not in the OpenAPI document) is the client's too
    tus = await operator.post(
        "/api/v1/media/uploads", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "16"}
    )
    assert tus.status_code == 403
    assert (await client.http.get("/api/v1/posts")).json()["items"] == []


async def test_the_clients_export_has_its_deliveries_and_erasure_removes_them(
    queue: QueueServer,
) -> None:
    client, _, delivery = await delivered(queue)
    proposal = delivery["proposals"][0]["id"]
    assert (await client.http.post(f"/api/v1/posts/proposals/{proposal}/approve")).is_success
    export = (await client.http.get("/api/v1/posts/export")).json()
    assert [d["id"] for d in export["deliveries"]] == [delivery["id"]]
    assert export["deliveries"][0]["proposals"][0]["status"] == "approved"
    assert {"delivered", "proposed", "approved"} <= {a["action"] for a in export["audit"]}

    account = uuid.UUID(delivery["proposals"][0]["targets"][0]["account_id"])

    async def left() -> int:
        async with queue.runtime.reader() as session:
            total = 0
            for table in (Delivery, Proposal, AuditEntry):
                total += (
                    await session.scalar(
                        select(func.count()).select_from(table).where(table.client_id == client.id)
                    )
                    or 0
                )
            # the outbox too, sent rows included (kept an hour for a broker that lost them)
            naming = or_(
                OutboxMessage.key == str(client.id),
                OutboxMessage.payload.contains(str(client.id)),
            )
            return total + (
                await session.scalar(select(func.count()).select_from(OutboxMessage).where(naming))
                or 0
            )

    async with queue.runtime.reader() as session:  # the approval's answer, once sent
        await eventually(
            lambda: session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.key == str(client.id), OutboxMessage.sent_at.is_not(None))
            ),
            timeout=15,
        )
    await client.account_event(account, "tiktok", "deleted", reason="the client erased their data")
    await eventually(lambda: _zero(left), timeout=15)


async def test_erasure_leaves_nothing_of_the_person_on_the_account_placeholder(
    queue: QueueServer,
) -> None:
    client = queue.client()
    account = await client.account(
        "vk", display_name="Ivan Petrov", platform_user_id="1234567", communities=[42, 43]
    )
    async with queue.runtime.reader() as session:
        kept = await session.get(Account, account)
        assert kept is not None
        assert kept.platform_user_id == "1234567"
    # the worst case: the deletion itself still names the person
    await client.account_event(
        account,
        "vk",
        "deleted",
        reason="the client erased their data",
        display_name="Ivan Petrov",
        platform_user_id="1234567",
        communities=[42],
    )
    async with queue.runtime.reader() as session:
        row = await session.get(Account, account)
    assert row is not None  # kept so that a late older event is seen as stale
    assert (row.display_name, row.platform_user_id, row.communities) == (None, None, None)
    assert row.status == "deleted"


async def _zero(count: Any) -> bool:
    return bool(await count() == 0)


async def test_a_post_the_client_queued_itself_has_a_trail_starting_with_its_own_act(
    queue: QueueServer,
) -> None:
    client = queue.client()
    post = await client.queue(tiktok=await client.account("tiktok"), at=at_offset(3600))
    trail = (await client.http.get(f"/api/v1/posts/{post['id']}/audit")).json()["items"]
    assert [(i["action"], i["actor_role"], i["actor_id"]) for i in trail] == [
        ("queued", "client", str(client.id))
    ]
    stranger = queue.client()
    assert (await stranger.http.get(f"/api/v1/posts/{post['id']}/audit")).status_code == 404


async def test_audit_entries_past_the_retention_go_unless_a_post_or_proposal_in_progress_needs_them(
    queue: QueueServer,
) -> None:
    long_ago = now() - timedelta(days=500)

    async def approved(at: Any) -> tuple[ApiClient, str, str]:
        client, _, delivery = await delivered(queue)
        proposal = delivery["proposals"][0]["id"]
        if at is not None:
            edited = await client.http.patch(
                f"/api/v1/posts/proposals/{proposal}", json={"scheduled_at": at.isoformat()}
            )
            assert edited.status_code == 200, edited.text
        answer = await client.http.post(f"/api/v1/posts/proposals/{proposal}/approve")
        assert answer.status_code == 200, answer.text
        return client, proposal, answer.json()["post_id"]

    # a post still to be published, a post cancelled long ago, a proposal the client
    # answered today, and one nobody touched since: all written long ago
    waiting, _, _ = await approved(at_offset(86400 * 30))
    cancelled, old_proposal, old_post = await approved(at_offset(3600))
    assert (await cancelled.http.post(f"/api/v1/posts/{old_post}/cancel")).status_code == 200
    answered, _, _ = await delivered(queue)
    forgotten, _, forgotten_delivery = await delivered(queue)
    clients = [waiting, cancelled, answered, forgotten]
    async with queue.runtime.factory() as session, session.begin():
        await session.execute(
            update(AuditEntry)
            .where(AuditEntry.client_id.in_([c.id for c in clients]))
            .values(at=long_ago)
        )
        await session.execute(
            update(Target).where(Target.post_id == uuid.UUID(old_post)).values(updated_at=long_ago)
        )
        for proposal_id in (old_proposal, forgotten_delivery["proposals"][0]["id"]):
            await session.execute(
                update(Proposal)
                .where(Proposal.id == uuid.UUID(proposal_id))
                .values(updated_at=long_ago)
            )

    async def actions(client: ApiClient) -> list[str]:
        async with queue.runtime.reader() as session:
            rows = await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.client_id == client.id)
                .order_by(AuditEntry.id)
            )
            return list(rows)

    before = {c.id: await actions(c) for c in clients}
    runtime = queue.runtime
    keep_all = MediaRetention(
        runtime.factory, media_dir=runtime.settings.media_dir, days=None, clock=now
    )
    assert await keep_all.expire_audit() == 0, "no retention set: nothing goes"
    assert runtime.settings.audit_retention_days == 400, "the default"
    job = MediaRetention(
        runtime.factory, media_dir=runtime.settings.media_dir, days=None, clock=now, audit_days=400
    )
    assert await job.expire_audit() >= 5
    assert await actions(waiting) == before[waiting.id]
    assert before[waiting.id] == ["delivered", "proposed", "edited", "approved"]
    assert await actions(answered) == before[answered.id] == ["delivered", "proposed"]
    assert await actions(cancelled) == []
    assert await actions(forgotten) == []
    assert await job.expire_audit() == 0


async def test_a_refused_delivery_keeps_the_uploaded_file_for_the_corrected_delivery(
    queue: QueueServer,
) -> None:
    """One missing field (TikTok's ``privacy_level``) must not cost the operator a second
    upload of what may be gigabytes: the refused delivery's file stays in the client's
    library, and the corrected delivery names it again. Files no delivery ever names go
    with the orphan sweep (:meth:`MediaLibrary.sweep_orphans`)."""
    client = queue.client()
    account = await client.account("tiktok")
    operator = queue.operator()
    media = await operator_upload(operator, client)
    used = (await client.http.get("/api/v1/media")).json()["used_bytes"]
    no_privacy = {"account_id": str(account), "tiktok": {"caption": "no privacy chosen"}}
    answer = await deliver(operator, client, media["id"], {"targets": [no_privacy]})
    assert answer.status_code == 422, answer.text
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"proposals[0].targets[0].tiktok.privacy_level"}
    assert (await client.http.get(f"/api/v1/media/{media['id']}")).status_code == 200
    assert (await client.http.get("/api/v1/media")).json()["used_bytes"] == used
    # a refusal of the request's shape keeps it too
    shapeless = await operator.post(
        "/api/v1/operator/deliveries",
        json={"client_id": str(client.id), "media_id": media["id"], "proposals": "none"},
    )
    assert shapeless.status_code == 422, shapeless.text
    corrected = await deliver(operator, client, media["id"], {"targets": [tiktok(account)]})
    assert corrected.status_code == 201, corrected.text
    assert corrected.json()["media_id"] == media["id"]


@pytest.mark.parametrize("queue", ["postgres"], indirect=True)  # row locks (see below)
async def test_a_delivery_whose_file_the_orphan_sweep_deletes_meanwhile_is_refused(
    queue: QueueServer,
) -> None:
    """The race of a delivery and the orphan sweep on one file: the delivery holds
    the file's row (FOR SHARE) while it is written, so a delete that took the row first
    (as :meth:`MediaLibrary.delete_unused` does, FOR UPDATE) leaves it a 422, never a
    delivery of a deleted file. PostgreSQL only: SQLite's writers are serial, and the
    delivery's transaction reads the row after any delete committed before it."""
    client = queue.client()
    account = await client.account("tiktok")
    operator = queue.operator()
    media = uuid.UUID((await operator_upload(operator, client))["id"])

    async def waiting_on_the_file_or_done() -> bool:
        if delivering.done():  # it did not wait for the file: the assertions below say how
            return True
        async with queue.runtime.reader() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE '%FROM media%FOR SHARE%'"
                )
            )
        return bool(waiting)

    async with queue.runtime.factory() as deleting, deleting.begin():
        await deleting.scalar(select(Media).where(Media.id == media).with_for_update())
        delivering = asyncio.create_task(
            deliver(operator, client, str(media), {"targets": [tiktok(account)]})
        )
        await eventually(waiting_on_the_file_or_done, timeout=15)  # checked, now writing
        await deleting.execute(delete(Media).where(Media.id == media))
    answer = await delivering
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert (error["field"], error["message"]) == (
        "media_id",
        "not in this client's library; it was just deleted",
    )
    async with queue.runtime.reader() as session:
        held = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.client_id == client.id)
        )
    assert held == 0


async def test_the_operators_422s_speak_of_the_client_and_the_clients_of_you(
    queue: QueueServer,
) -> None:
    client = queue.client()
    operator = queue.operator()
    await client.account("tiktok")
    stranger = await queue.client().account("tiktok")
    answer = await deliver(operator, client, str(uuid.uuid4()), {"targets": [tiktok(stranger)]})
    assert answer.status_code == 422
    words = {e["field"]: e["message"] for e in answer.json()["errors"]}
    assert words["proposals[0].targets[0].account_id"] == (
        "not one of this client's connected accounts"
    )
    assert "upload it to the client's library first" in words["media_id"]
    assert not [m for m in words.values() if "your" in m or "/api/v1/media" in m]

    own = await client.http.post(
        "/api/v1/posts",
        json={"media_id": str(uuid.uuid4()), "targets": [tiktok(stranger)]},
    )
    assert own.status_code == 422
    mine = {e["field"]: e["message"] for e in own.json()["errors"]}
    assert mine["targets[0].account_id"] == "not one of your connected accounts"
    assert "POST /api/v1/media" in mine["media_id"]


async def test_an_approved_proposal_shows_where_its_post_stands_on_both_sides(
    queue: QueueServer, recorder: Recorder
) -> None:
    client, operator, delivery = await delivered(queue)
    proposal = delivery["proposals"][0]["id"]
    assert delivery["proposals"][0]["post_targets"] == []
    approved = await client.http.post(f"/api/v1/posts/proposals/{proposal}/approve")
    post = await client.get(approved.json()["post_id"])
    await eventually(lambda: recorder.commands(post["targets"][0]["id"]), timeout=15)
    await queue.result(post, type="failed", code="spam_risk", reason="TikTok: spam risk")

    async def states(http: httpx.AsyncClient, path: str) -> list[dict[str, Any]] | None:
        items = (await http.get(path)).json()["items"]
        [mine] = [p for d in items for p in d["proposals"] if p["id"] == proposal]
        found: list[dict[str, Any]] = mine["post_targets"]
        return found if found and found[0]["status"] == "failed" else None

    theirs = await eventually(lambda: states(client.http, "/api/v1/posts/proposals"), timeout=15)
    assert theirs == [{"platform": "tiktok", "status": "failed"}]
    ours = await states(operator, f"/api/v1/operator/deliveries?client_id={client.id}")
    assert ours == theirs


async def test_operator_uploads_no_post_or_delivery_names_are_swept_after_a_day_and_nothing_else(
    queue: QueueServer,
) -> None:
    client, operator, delivery = await delivered(queue)  # its file: named by a delivery
    named = delivery["media_id"]
    orphan = (await operator_upload(operator, client))["id"]  # the tab closed: no delivery
    fresh = (await operator_upload(operator, client))["id"]  # a delivery still being made
    own = (await client.upload())["id"]  # the client's own, named by nothing
    runtime = queue.runtime
    assert runtime.settings.operator_upload_orphan_hours == 24, "the default"
    long_ago = now() - timedelta(hours=25)
    async with runtime.factory() as session, session.begin():
        await session.execute(
            update(Media)
            .where(Media.id.in_([uuid.UUID(m) for m in (named, orphan, own)]))
            .values(created_at=long_ago)
        )
        path = await session.scalar(select(Media.path).where(Media.id == uuid.UUID(orphan)))
    assert path is not None
    assert (runtime.settings.media_dir / path).exists()
    never = MediaRetention(
        runtime.factory, media_dir=runtime.settings.media_dir, days=None, clock=now
    )
    assert await never.sweep_orphans() == 0, "no library or hours: nothing goes"
    job = MediaRetention(
        runtime.factory,
        media_dir=runtime.settings.media_dir,
        days=None,
        clock=now,
        library=runtime.library,
        orphan_hours=24,
    )
    assert await job.sweep_orphans() == 1
    assert (await client.http.get(f"/api/v1/media/{orphan}")).status_code == 404
    assert not (runtime.settings.media_dir / path).exists()
    for kept in (named, fresh, own):
        assert (await client.http.get(f"/api/v1/media/{kept}")).status_code == 200, kept
    assert await job.sweep_orphans() == 0
