"""The operator's console at the queue: posts in trouble with reasons and trace links,
posts by status per client, dead letters and their re-drive; roles kept apart (issue 13)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from queue_support import QueueServer, Recorder, at_offset, eventually, now
from sqlalchemy import select

from cachalot_common.dead_letters import DeadLetterReader
from cachalot_common.problems import Problem
from cachalot_common.topic_plan import ensure_topics
from cachalot_common.topics import POSTS_RESULT, dlq
from cachalot_queue.metrics import sample_depth
from cachalot_queue.operator import OperatorConsole, RedriveIn, broker_publish
from cachalot_queue.tables import DlqRedrive
from cachalot_testing.broker import TansuBroker
from cachalot_testing.roles import WRONG_ROLE, wrong_role_requests

pytestmark = pytest.mark.integration


async def dispatched(recorder: Recorder, post: dict[str, Any]) -> Any:
    target = post["targets"][0]["id"]
    return await eventually(lambda: recorder.commands(target, reconcile=False), timeout=15)


async def until_status(queue: QueueServer, post: dict[str, Any], status: str) -> None:
    async def reached() -> bool:
        return (await queue.target(post["targets"][0]["id"])).status == status

    await eventually(reached, timeout=15)


async def troubled(operator: httpx.AsyncClient, status: str) -> list[dict[str, Any]]:
    answer = await operator.get("/api/v1/operator/posts", params={"status": status})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


async def test_a_failed_post_of_any_client_shows_with_its_reason_and_the_trace_of_its_dispatch(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    post = await client.queue(tiktok=await client.account("tiktok"))
    [command] = await dispatched(recorder, post)
    reason = "TikTok: the video was refused (spam_risk_too_many_posts)"
    await queue.result(post, type="failed", code="spam_risk_too_many_posts", reason=reason)
    await until_status(queue, post, "failed")

    items = await troubled(queue.operator(), "failed")
    [item] = [i for i in items if i["post_id"] == post["id"]]
    assert (item["client_id"], item["reason"], item["code"]) == (
        str(client.id),
        reason,
        "spam_risk_too_many_posts",
    )
    # the trace the command travelled in: its traceparent's trace id, linked in the UI
    trace_id = command.headers["traceparent"].split("-")[1]
    assert item["trace_id"] == trace_id
    assert item["trace_url"] == f"http://traces.test:16686/trace/{trace_id}"


async def test_paused_posts_are_listed_and_the_summary_counts_each_clients_targets_by_status(
    queue: QueueServer, recorder: Recorder
) -> None:
    client = queue.client()
    tiktok = await client.account("tiktok")
    first = await client.queue(tiktok=tiktok)
    await client.queue(tiktok=tiktok, at=at_offset(3600))
    await dispatched(recorder, first)
    await queue.result(
        first, type="failed", code="invalid_grant", reason="refused", reauth_required=True
    )
    await until_status(queue, first, "paused")

    operator = queue.operator()
    paused = [i for i in await troubled(operator, "paused") if i["client_id"] == str(client.id)]
    assert len(paused) == 2
    summary = (await operator.get("/api/v1/operator/posts/summary")).json()["items"]
    [mine] = [s for s in summary if s["client_id"] == str(client.id)]
    assert mine == {"client_id": str(client.id), "posts": 2, "targets": {"paused": 2}}


async def test_a_post_due_long_ago_and_never_dispatched_is_stuck(queue: QueueServer) -> None:
    client = queue.client()
    post = await client.queue(tiktok=await client.account("tiktok"), at=at_offset(600))
    later = now() + timedelta(hours=1)  # the console's clock, an hour on
    console = OperatorConsole(
        queue.runtime.factory,
        reader=queue.runtime.reader,
        dead_letters=DeadLetterReader(queue.runtime.settings.kafka_bootstrap),
        publish=broker_publish(queue.runtime.broker),
        clock=lambda: later,
        stuck_after_s=queue.runtime.settings.reconcile_after_s,
        trace_url_template=None,
    )
    [item] = [i for i in await console.troubled("stuck", limit=500) if i["post_id"] == post["id"]]
    assert item["stuck"] is True
    assert item["status"] == "scheduled"
    assert "not dispatched" in item["reason"]
    assert all(i["post_id"] != post["id"] for i in await troubled(queue.operator(), "stuck"))


async def test_a_dead_letter_is_listed_with_its_reason_and_re_driven_once_with_its_key(
    queue: QueueServer,
) -> None:
    key = f"dead-{uuid.uuid4().hex[:8]}"
    await queue.kafka.raw(POSTS_RESULT, b'{"type": "published"', key)  # cut short: no JSON
    operator = queue.operator()

    async def parked() -> list[dict[str, Any]]:
        answer = await operator.get("/api/v1/operator/dlq", params={"topic": POSTS_RESULT})
        assert answer.status_code == 200, answer.text
        return [i for i in answer.json()["items"] if i["key"] == key]

    [letter] = await eventually(parked, timeout=30, every=0.5)  # before the copy is parked
    assert letter["dlq_topic"] == dlq(POSTS_RESULT)
    assert letter["source_topic"] == POSTS_RESULT
    assert letter["reason"]
    assert letter["redriven_by"] is None

    where = {"topic": POSTS_RESULT, "partition": letter["partition"], "offset": letter["offset"]}
    sent = await operator.post("/api/v1/operator/dlq/redrive", json=where)
    assert sent.status_code == 200, sent.text
    again = await operator.post("/api/v1/operator/dlq/redrive", json=where)
    assert again.status_code == 409

    back = [r for r in await queue.kafka.read_all(POSTS_RESULT) if (r.key or b"").decode() == key]
    assert len(back) == 2  # the original and the re-driven copy, same key and value
    headers = {k: v.decode() for k, v in back[-1].headers}
    assert headers["x-redriven-from"] == (
        f"{dlq(POSTS_RESULT)}/{letter['partition']}/{letter['offset']}"
    )
    assert not [k for k in headers if k.startswith("x-dlq-")]
    assert back[-1].value == back[0].value
    async with queue.runtime.reader() as session:
        audit = (await session.scalars(select(DlqRedrive).where(DlqRedrive.key == key))).all()
    assert [a.source_topic for a in audit] == [POSTS_RESULT]
    # still unreadable, the copy is parked again: a new record, carrying where it came from
    letters = await eventually(lambda: _two(parked), timeout=30, every=0.5)
    shown = {i["offset"]: i for i in letters}
    assert shown[letter["offset"]]["redriven_by"] == headers["x-redriven-by"]
    [copy] = [i for i in letters if i["offset"] != letter["offset"]]
    assert copy["headers"]["x-redriven-from"] == headers["x-redriven-from"]
    assert copy["redriven_by"] is None


async def test_a_dead_letter_carrying_a_token_is_shown_redacted_and_re_driven_as_it_was(
    queue: QueueServer,
) -> None:
    key = f"dead-{uuid.uuid4().hex[:8]}"
    token = "act.Zx81kQ0fakeTOKENvalue2y7"
    value = f'{{"type": "published", "note": "Authorization: Bearer {token}"'.encode()
    await queue.kafka.raw(POSTS_RESULT, value, key)  # cut short: no JSON, parked
    operator = queue.operator()

    async def parked() -> list[dict[str, Any]]:
        answer = await operator.get("/api/v1/operator/dlq", params={"topic": POSTS_RESULT})
        assert answer.status_code == 200, answer.text
        return [i for i in answer.json()["items"] if i["key"] == key]

    [letter] = await eventually(parked, timeout=30, every=0.5)
    assert token not in str(letter)
    assert "Bearer ***" in letter["value"]
    where = {"topic": POSTS_RESULT, "partition": letter["partition"], "offset": letter["offset"]}
    sent = await operator.post("/api/v1/operator/dlq/redrive", json=where)
    assert sent.status_code == 200, sent.text
    assert token not in sent.text
    back = [r for r in await queue.kafka.read_all(POSTS_RESULT) if (r.key or b"").decode() == key]
    assert [r.value for r in back] == [value, value]  # the record itself is not altered


async def test_a_re_drive_records_the_letters_key_redacted_as_the_console_shows_it(
    queue: QueueServer,
) -> None:
    """The audit row of a re-drive is kept long after the letter: what it copies of the
    record (its key) is redacted, as :meth:`DeadLetter.public` shows it."""
    marker = uuid.uuid4().hex[:8]
    token = "act.Qw72pL0fakeTOKENvalue9x3"
    key = f"dead-{marker} Authorization: Bearer {token}"
    await queue.kafka.raw(POSTS_RESULT, b"not json", key)
    operator = queue.operator()

    async def parked() -> list[dict[str, Any]]:
        answer = await operator.get("/api/v1/operator/dlq", params={"topic": POSTS_RESULT})
        assert answer.status_code == 200, answer.text
        return [i for i in answer.json()["items"] if marker in (i["key"] or "")]

    [letter] = await eventually(parked, timeout=30, every=0.5)
    assert token not in str(letter)
    where = {"topic": POSTS_RESULT, "partition": letter["partition"], "offset": letter["offset"]}
    sent = await operator.post("/api/v1/operator/dlq/redrive", json=where)
    assert sent.status_code == 200, sent.text
    async with queue.runtime.factory() as db:
        rows = (await db.scalars(select(DlqRedrive))).all()
    [row] = [r for r in rows if marker in (r.key or "")]
    assert token not in f"{row.key} {row.reason}"
    assert "Bearer ***" in (row.key or "")


async def _two(parked: Any) -> list[dict[str, Any]] | None:
    letters: list[dict[str, Any]] = await parked()
    return letters if len(letters) == 2 else None


async def test_an_unknown_topic_is_a_422_naming_the_field(queue: QueueServer) -> None:
    answer = await queue.operator().get("/api/v1/operator/dlq", params={"topic": "nope.v1"})
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "topic"


async def test_every_api_route_of_the_queue_refuses_the_session_of_the_other_role(
    queue: QueueServer,
) -> None:
    document = (await queue.operator().get("/openapi.json")).json()
    requests = wrong_role_requests(document)
    assert {r.role for r in requests} == {"client", "operator"}
    client, operator = queue.client().http, queue.operator()
    refused = []
    for request in requests:
        http = operator if request.role == "client" else client
        answer = await http.request(
            request.method, request.path, headers=request.headers, content=request.body
        )
        refused.append((request.method, request.path, answer.status_code))
        assert answer.status_code == 403, (request, answer.text)
        assert answer.json()["type"] == WRONG_ROLE
    assert len(refused) >= 15


async def test_a_re_drive_the_broker_refuses_keeps_no_audit_row_and_can_be_tried_again(
    queue: QueueServer,
) -> None:
    key = f"dead-{uuid.uuid4().hex[:8]}"
    await queue.kafka.raw(POSTS_RESULT, b"not json", key)

    async def refuse(*_: Any) -> None:
        raise ConnectionError("broker away")

    def console(publish: Any) -> OperatorConsole:
        return OperatorConsole(
            queue.runtime.factory,
            reader=queue.runtime.reader,
            dead_letters=DeadLetterReader(queue.runtime.settings.kafka_bootstrap),
            publish=publish,
            clock=now,
            stuck_after_s=60,
            trace_url_template=None,
        )

    async def parked() -> list[dict[str, Any]]:
        letters = await console(refuse).dead_letters(POSTS_RESULT, limit=200)
        return [i for i in letters if i["key"] == key]

    [letter] = await eventually(parked, timeout=30, every=0.5)
    where = RedriveIn(topic=POSTS_RESULT, partition=letter["partition"], offset=letter["offset"])
    operator_id = uuid.uuid4()
    with pytest.raises(ConnectionError):
        await console(refuse).redrive(where, operator_id=operator_id)
    async with queue.runtime.reader() as session:
        assert (await session.scalars(select(DlqRedrive).where(DlqRedrive.key == key))).all() == []
    sent = await console(broker_publish(queue.runtime.broker)).redrive(
        where, operator_id=operator_id
    )
    assert sent["topic"] == POSTS_RESULT


async def test_stuck_targets_are_counted_for_the_alert_by_the_consoles_rule(
    queue: QueueServer,
) -> None:
    # issue 13 item 7: cachalot_queue_stuck_targets feeds CachalotPostsStuck
    client = queue.client()
    await client.queue(tiktok=await client.account("tiktok"), at=at_offset(600))
    after = queue.runtime.settings.reconcile_after_s
    reader = queue.runtime.reader
    today = await sample_depth(reader, stuck_after_s=after, clock=now)
    later = now() + timedelta(hours=1)
    an_hour_on = await sample_depth(reader, stuck_after_s=after, clock=lambda: later)
    assert an_hour_on.get("tiktok", 0) >= today.get("tiktok", 0) + 1
    async with httpx.AsyncClient(base_url=queue.base_url) as http:
        exposed = (await http.get("/metrics")).text
    assert 'cachalot_queue_stuck_targets{platform="tiktok"}' in exposed


async def test_the_scheduler_dispatches_a_post_in_the_trace_of_the_request_that_queued_it(
    queue: QueueServer, recorder: Recorder
) -> None:
    """The dashboard's request, the dispatch and the command are one trace (issue 13 item 4):
    the scheduler runs outside any request, so the target keeps the request's traceparent."""
    client = queue.client()
    tiktok = await client.account("tiktok")
    media = await client.upload()
    trace_id = uuid.uuid4().hex
    body = {
        "media_id": media["id"],
        "targets": [
            {
                "account_id": str(tiktok),
                "tiktok": {"caption": "traced", "privacy_level": "SELF_ONLY"},
            }
        ],
        "scheduled_at": (now() + timedelta(seconds=1)).isoformat(),  # the scheduler's, later
    }
    answer = await client.post(body, traceparent=f"00-{trace_id}-{'1' * 16}-01")
    assert answer.status_code == 201, answer.text
    [command] = await dispatched(recorder, answer.json())
    assert command.headers["traceparent"].split("-")[1] == trace_id
    target = await queue.target(answer.json()["targets"][0]["id"])
    assert target.trace_id == trace_id


async def test_a_results_status_continues_the_results_trace_though_results_come_in_batches(
    queue: QueueServer, recorder: Recorder
) -> None:
    """Results are applied a batch per transaction; each one's status event still goes on
    in the trace its record came in, so the notifier's message joins the post's trace."""
    client = queue.client()
    post = await client.queue(tiktok=await client.account("tiktok"))
    await dispatched(recorder, post)
    trace_id = uuid.uuid4().hex
    await queue.result(
        post,
        type="failed",
        code="spam_risk_too_many_posts",
        reason="refused",
        headers={"traceparent": f"00-{trace_id}-{'2' * 16}-01"},
    )
    target = post["targets"][0]["id"]

    async def failed_status() -> Any:
        return [
            s
            for s in recorder.seen
            if s.value.get("target_id") == target and s.value.get("status") == "failed"
        ]

    [status] = await eventually(failed_status, timeout=15)
    assert status.headers["traceparent"].split("-")[1] == trace_id


async def test_a_dead_letter_at_an_offset_re_driven_before_the_broker_restarted_empty_is_new(
    queue: QueueServer, tmp_path: Path
) -> None:
    """Tansu keeps nothing: after a restart the next dead letter lands at the offset of one
    re-driven before. It is another record (listed as not re-driven, re-driven once)."""
    tansu = TansuBroker(log_path=tmp_path / "tansu.log").start()
    plan = {dlq(POSTS_RESULT): 1, POSTS_RESULT: 1}
    sent: list[tuple[bytes, str, bytes | None]] = []

    async def publish(value: bytes, topic: str, key: bytes | None, headers: Any) -> None:
        sent.append((value, topic, key))

    console = OperatorConsole(
        queue.runtime.factory,
        reader=queue.runtime.reader,
        dead_letters=DeadLetterReader(tansu.bootstrap),
        publish=publish,
        clock=now,
        stuck_after_s=60,
        trace_url_template=None,
    )

    async def park(value: bytes) -> dict[str, Any]:
        producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                dlq(POSTS_RESULT),
                value,
                key=b"same-key",
                partition=0,
                headers=[("x-dlq-source-topic", POSTS_RESULT.encode())],
            )
        finally:
            await producer.stop()
        [letter] = await console.dead_letters(POSTS_RESULT, limit=10)
        return letter

    operator_id = uuid.uuid4()
    try:
        await ensure_topics(tansu.bootstrap, plan)
        first = await park(b"first life")
        where = RedriveIn(topic=POSTS_RESULT, partition=0, offset=first["offset"])
        await console.redrive(where, operator_id=operator_id)
        with pytest.raises(Problem) as again:
            await console.redrive(where, operator_id=operator_id)
        assert again.value.status == 409
        tansu.restart()  # empty
        await ensure_topics(tansu.bootstrap, plan)
        second = await park(b"second life")
        assert (second["partition"], second["offset"]) == (first["partition"], first["offset"])
        assert second["redriven_by"] is None
        await console.redrive(where, operator_id=operator_id)
        assert [v for v, _, _ in sent] == [b"first life", b"second life"]
        [shown] = await console.dead_letters(POSTS_RESULT, limit=10)
        assert shown["redriven_by"] == str(operator_id)
    finally:
        tansu.stop()


async def test_the_operator_reads_the_platform_catalogue_the_clients_dashboard_reads(
    queue: QueueServer,
) -> None:
    """Its proposals' options for Instagram, VK and Telegram are worded from the blocks'
    schemas (web/choices.js), as on the client's page."""
    client = queue.client()
    operator = queue.operator()
    theirs = await operator.get("/api/v1/operator/platforms")
    assert theirs.status_code == 200, theirs.text
    assert theirs.json() == (await client.http.get("/api/v1/posts/platforms")).json()
    schemas = {p["name"]: p["fields"] for p in theirs.json()["items"]}
    assert all(schemas[name] for name in ("instagram", "vk", "telegram"))
    assert (await client.http.get("/api/v1/operator/platforms")).status_code == 403
