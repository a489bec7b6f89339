"""The live feed (``GET /api/v1/events``) on a real broker: what arrives, for whom, after a drop.

Status events are the queue's own (a real post dispatched, a publisher's progress
and result) or, where a test needs many or needs them on another replica, events
sent to ``posts.status.v1`` as the queue writes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import TopicPartition
from queue_support import SECRET, Kafka, QueueServer, eventually, start_queue
from sse_starlette import ServerSentEvent

from cachalot_common.events import (
    AccountChanged,
    PostStatusChanged,
    ProposalChanged,
    SessionEnded,
    utcnow,
)
from cachalot_common.sessions import COOKIE_NAME, issue_session
from cachalot_common.topic_plan import ensure_topics
from cachalot_common.topics import ACCOUNTS, POSTS_STATUS, PROPOSALS, SESSIONS
from cachalot_queue.live import (
    ClientStream,
    LiveFeed,
    Mark,
    client_entries,
    format_id,
    parse_id,
    parse_mark,
)
from cachalot_testing.broker import TansuBroker

pytestmark = pytest.mark.integration


@dataclass
class Message:
    event: str | None
    data: str | None
    id: str | None
    comment: str | None

    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


@dataclass
class Stream:
    """An open ``GET /api/v1/events``: every message (events and heartbeats) as it arrives."""

    response: httpx.Response
    messages: list[Message] = field(default_factory=list)
    closed: bool = False

    def named(self, name: str) -> list[Message]:
        return [m for m in self.messages if m.event == name]

    def last_id(self) -> str | None:
        ids = [m.id for m in self.messages if m.id is not None]
        return ids[-1] if ids else None


async def _pump(stream: Stream) -> None:
    fields: dict[str, str] = {}
    comment: str | None = None
    try:
        async for line in stream.response.aiter_lines():
            if line == "":
                if fields or comment is not None:
                    stream.messages.append(
                        Message(fields.get("event"), fields.get("data"), fields.get("id"), comment)
                    )
                fields, comment = {}, None
            elif line.startswith(":"):
                comment = line[1:].strip()
            else:
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value
    except httpx.HTTPError:
        pass
    stream.closed = True


@contextlib.asynccontextmanager
async def listen(
    base_url: str,
    token: str,
    last_event_id: str | None = None,
    *,
    in_query: bool = False,
    path: str = "/api/v1/events",
) -> AsyncIterator[Stream]:
    headers = {"Accept": "text/event-stream"}
    params = {}
    if last_event_id is not None and in_query:
        params["resume"] = last_event_id
    elif last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    async with (
        httpx.AsyncClient(base_url=base_url, cookies={COOKIE_NAME: token}, timeout=30) as http,
        http.stream("GET", path, headers=headers, params=params) as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        task = asyncio.create_task(_pump(stream))
        try:
            await eventually(lambda: stream.named("ready"), timeout=20)
            yield stream
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def session_token(client_id: uuid.UUID) -> str:
    token, _ = issue_session(client_id=client_id, secret=SECRET, lifetime_s=3600)
    return token


def status_event(client_id: uuid.UUID, post_id: uuid.UUID, status: str) -> PostStatusChanged:
    return PostStatusChanged(
        post_id=post_id,
        target_id=uuid.uuid4(),
        client_id=client_id,
        account_id=uuid.uuid4(),
        platform="youtube",
        status=status,  # type: ignore[arg-type]
        previous="scheduled",
        attempt=1,
    )


async def test_a_posts_status_and_publishing_progress_in_percent_arrive_on_its_clients_stream(
    queue: QueueServer,
) -> None:
    client = queue.client()
    youtube = await client.account("youtube")
    async with listen(queue.base_url, session_token(client.id)) as stream:
        assert stream.named("ready")[0].json() == {"resumed": False}
        post = await client.queue(youtube=youtube)
        target_id = post["targets"][0]["id"]

        def statuses() -> list[Any]:
            return [m.json() for m in stream.named("status") if m.json()["target_id"] == target_id]

        await eventually(lambda: any(s["status"] == "dispatched" for s in statuses()), timeout=20)
        await queue.result(post, type="progress", bytes_sent=500, bytes_total=1000)
        half = await eventually(lambda: [s for s in statuses() if s["percent"] == 50], timeout=20)
        assert half[0]["status"] == "publishing"
        assert half[0]["bytes_total"] == 1000
        await queue.result(post, type="published", remote_url="https://youtu.be/x", remote_id="x")
        done = await eventually(
            lambda: [s for s in statuses() if s["status"] == "published"], timeout=20
        )
        assert done[0]["remote_url"] == "https://youtu.be/x"
        assert done[0]["post_id"] == post["id"]
        assert all(m.id for m in stream.named("status")), "every event has an id to resume from"


async def test_an_accounts_change_arrives_on_its_clients_stream(queue: QueueServer) -> None:
    client = queue.client()
    account_id = uuid.uuid4()
    async with listen(queue.base_url, session_token(client.id)) as stream:
        await client.account_event(account_id, "tiktok", "reauth_required", reason="expired")
        arrived = await eventually(lambda: stream.named("account"), timeout=20)
        assert arrived[0].json()["account_id"] == str(account_id)
        assert arrived[0].json()["status"] == "reauth_required"
        assert arrived[0].json()["reason"] == "expired"


async def test_another_clients_events_never_arrive_on_a_stream(queue: QueueServer) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    async with listen(queue.base_url, session_token(mine)) as stream:
        other_post = uuid.uuid4()
        await queue.kafka.send(
            POSTS_STATUS, status_event(theirs, other_post, "failed"), str(other_post)
        )
        await queue.kafka.send(
            ACCOUNTS,
            AccountChanged(
                type="revoked", account_id=uuid.uuid4(), client_id=theirs, platform="vk"
            ),
            str(uuid.uuid4()),
        )
        # then one of ours on the same partition as theirs (same key): it comes after theirs
        own = status_event(mine, other_post, "published")
        await queue.kafka.send(POSTS_STATUS, own, str(other_post))
        await eventually(lambda: stream.named("status"), timeout=20)
        await asyncio.sleep(0.5)
        assert [m.json()["target_id"] for m in stream.named("status")] == [str(own.target_id)]
        assert not stream.named("account")
        assert str(theirs) not in "".join(m.data or "" for m in stream.messages)


async def test_a_stream_resumed_with_last_event_id_replays_what_was_missed_and_nothing_twice(
    queue: QueueServer,
) -> None:
    client_id, post_id = uuid.uuid4(), uuid.uuid4()
    token = session_token(client_id)
    first = status_event(client_id, post_id, "dispatched")
    async with listen(queue.base_url, token) as stream:
        await queue.kafka.send(POSTS_STATUS, first, str(post_id))
        await eventually(lambda: stream.named("status"), timeout=20)
        resume_from = stream.last_id()
    # the connection drops; two events happen meanwhile
    missed = [status_event(client_id, post_id, s) for s in ("publishing", "published")]
    for event in missed:
        await queue.kafka.send(POSTS_STATUS, event, str(post_id))
    await eventually(
        lambda: (
            (pos := parse_id(resume_from))
            and sum(queue_position(queue).values()) >= sum(pos.values()) + 2
        ),
        timeout=20,
    )
    async with listen(queue.base_url, token, last_event_id=resume_from) as again:
        assert again.named("ready")[0].json() == {"resumed": True}
        await eventually(lambda: len(again.named("status")) >= 2, timeout=20)
        await asyncio.sleep(0.3)
        got = [m.json()["target_id"] for m in again.named("status")]
        assert got == [str(e.target_id) for e in missed]


def queue_position(queue: QueueServer) -> dict[Any, int]:
    """The replica's feed position (what it has read of both topics)."""
    return dict(_feed(queue).position)


def _feed(queue: QueueServer) -> LiveFeed:
    feed = queue.runtime.live_feed
    assert feed is not None
    return feed


async def test_a_stream_of_a_session_that_signs_out_is_ended_and_not_reopened(
    queue: QueueServer,
) -> None:
    client_id = uuid.uuid4()
    token, session = issue_session(client_id=client_id, secret=SECRET, lifetime_s=3600)
    async with listen(queue.base_url, token) as stream:
        await queue.kafka.send(
            SESSIONS,
            SessionEnded(
                type="revoked",
                client_id=client_id,
                session_id=session.session_id,
                expires_at=utcnow() + timedelta(hours=1),
            ),
            str(client_id),
        )
        await eventually(lambda: stream.named("ended"), timeout=20)
        assert stream.named("ended")[0].json() == {"reason": "signed_out"}
        await eventually(lambda: stream.closed, timeout=10)
    async with httpx.AsyncClient(
        base_url=queue.base_url, cookies={COOKIE_NAME: token}, timeout=10
    ) as http:
        again = await http.get("/api/v1/events")
        assert again.status_code == 401
        assert again.headers["content-type"].startswith("application/problem+json")


async def test_an_operators_session_gets_no_stream(queue: QueueServer) -> None:
    response = await queue.operator().get("/api/v1/events")
    assert response.status_code == 403


async def test_a_clients_session_gets_no_operator_stream(queue: QueueServer) -> None:
    client = queue.client()
    response = await client.http.get("/api/v1/operator/events")
    assert response.status_code == 403


def proposal_event(client_id: uuid.UUID, change: str = "proposed") -> ProposalChanged:
    return ProposalChanged(
        change=change,  # type: ignore[arg-type]
        status="proposed" if change in ("proposed", "edited") else change,  # type: ignore[arg-type]
        client_id=client_id,
        operator_id=uuid.uuid4(),
        delivery_id=uuid.uuid4(),
        proposal_id=uuid.uuid4(),
    )


async def test_a_proposal_change_and_a_status_change_reach_every_operators_stream_but_progress_not(
    queue: QueueServer,
) -> None:
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    operator, _ = issue_session(
        client_id=uuid.uuid4(), secret=SECRET, lifetime_s=3600, role="operator"
    )
    another_operator, _ = issue_session(
        client_id=uuid.uuid4(), secret=SECRET, lifetime_s=3600, role="operator"
    )
    async with (
        listen(queue.base_url, session_token(mine)) as client_stream,
        listen(queue.base_url, operator, path="/api/v1/operator/events") as operator_stream,
        listen(
            queue.base_url, another_operator, path="/api/v1/operator/events"
        ) as another_operator_stream,
    ):
        # a post's progress, then its status: the client's stream has both, so the feed
        # read them before the proposals below; the operator's stream only the status
        # (its deliveries' posts and posts in trouble follow it), never the progress
        post_id = uuid.uuid4()
        progress = status_event(mine, post_id, "publishing").model_copy(
            update={"previous": "publishing", "bytes_sent": 5, "bytes_total": 10}
        )
        await queue.kafka.send(POSTS_STATUS, progress, str(post_id))
        status = status_event(mine, post_id, "published")
        await queue.kafka.send(POSTS_STATUS, status, str(post_id))
        await eventually(lambda: len(client_stream.named("status")) >= 2 or None, timeout=20)
        other = proposal_event(theirs)
        own = proposal_event(mine, "changes_requested")
        await queue.kafka.send(PROPOSALS, other, str(theirs))
        await queue.kafka.send(PROPOSALS, own, str(mine))

        def arrived(stream: Stream, count: int) -> list[Message]:
            got = stream.named("proposal")
            return got if len(got) >= count else []

        [seen] = await eventually(lambda: arrived(client_stream, 1), timeout=20)
        assert seen.json() == {
            "proposal_id": str(own.proposal_id),
            "delivery_id": str(own.delivery_id),
            "client_id": str(mine),
            "change": "changes_requested",
            "status": "changes_requested",
            "post_id": None,
            "occurred_at": own.occurred_at.isoformat(),
        }
        for stream in (operator_stream, another_operator_stream):  # every operator's
            both = await eventually(functools.partial(arrived, stream, 2), timeout=20)
            assert {m.json()["proposal_id"] for m in both} == {
                str(own.proposal_id),
                str(other.proposal_id),
            }
            [changed] = stream.named("status")
            assert changed.json()["status"] == "published"
            assert changed.json()["post_id"] == str(post_id)
            assert not stream.named("account")
        # the client's stream never carries another client's proposal (same feed, later on)
        later = proposal_event(mine, "approved")
        await queue.kafka.send(PROPOSALS, later, str(mine))
        await eventually(lambda: arrived(client_stream, 2), timeout=20)
        assert str(theirs) not in "".join(m.data or "" for m in client_stream.messages)


@pytest.fixture
async def replicas(
    kafka_bootstrap: str, kafka_idempotence: bool, tmp_path: Path
) -> AsyncIterator[list[QueueServer]]:
    """Two queue replicas on one broker, with short heartbeats and a small replay ring."""
    servers = [  # one after the other: Alembic's migrations are not safe to run at once
        await start_queue(
            f"sqlite+aiosqlite:///{tmp_path / f'q{n}.db'}",
            kafka_bootstrap,
            kafka_idempotence,
            tmp_path / f"media{n}",
            live_heartbeat_s=0.5,
            live_buffer_events=50,
        )
        for n in (1, 2)
    ]
    yield list(servers)
    for server in servers:
        await server.stop()
        await server.kafka.stop()


async def test_two_replicas_each_deliver_every_event_to_the_clients_connected_to_them(
    replicas: list[QueueServer],
) -> None:
    one, two = replicas
    a, b = uuid.uuid4(), uuid.uuid4()
    async with (
        listen(one.base_url, session_token(a)) as on_one,
        listen(two.base_url, session_token(b)) as on_two,
    ):
        sent = {}
        for who in (a, b):
            for _ in range(3):
                post = uuid.uuid4()
                event = status_event(who, post, "published")
                sent.setdefault(who, []).append(str(event.target_id))
                await one.kafka.send(POSTS_STATUS, event, str(post))
        await eventually(lambda: len(on_one.named("status")) >= 3, timeout=20)
        await eventually(lambda: len(on_two.named("status")) >= 3, timeout=20)
        assert sorted(m.json()["target_id"] for m in on_one.named("status")) == sorted(sent[a])
        assert sorted(m.json()["target_id"] for m in on_two.named("status")) == sorted(sent[b])
        # heartbeats keep both streams alive and carry the resume point
        await eventually(lambda: [m for m in on_two.messages if m.comment], timeout=5)
        beat = [m for m in on_two.messages if m.comment][-1]
        assert beat.comment == "keep-alive"
        assert beat.id


async def test_a_stream_dropped_on_one_replica_resumes_on_the_other_without_a_gap(
    replicas: list[QueueServer],
) -> None:
    one, two = replicas
    client_id, post_id = uuid.uuid4(), uuid.uuid4()
    token = session_token(client_id)
    async with listen(one.base_url, token) as stream:
        await one.kafka.send(
            POSTS_STATUS, status_event(client_id, post_id, "dispatched"), str(post_id)
        )
        await eventually(lambda: stream.named("status"), timeout=20)
        resume_from = stream.last_id()
    missed = status_event(client_id, post_id, "published")
    await one.kafka.send(POSTS_STATUS, missed, str(post_id))
    async with listen(two.base_url, token, last_event_id=resume_from) as again:
        assert again.named("ready")[0].json() == {"resumed": True}
        await eventually(lambda: again.named("status"), timeout=20)
        await asyncio.sleep(0.3)
        assert [m.json()["target_id"] for m in again.named("status")] == [str(missed.target_id)]
    # a page that opened a new EventSource passes the id in the query: the same replay
    async with listen(two.base_url, token, last_event_id=resume_from, in_query=True) as third:
        assert third.named("ready")[0].json() == {"resumed": True}
        await eventually(lambda: third.named("status"), timeout=20)
        assert [m.json()["target_id"] for m in third.named("status")] == [str(missed.target_id)]


async def test_a_gap_older_than_the_replay_ring_or_an_unreadable_id_tells_the_page_to_reload(
    replicas: list[QueueServer],
) -> None:
    one, _ = replicas
    client_id, post_id = uuid.uuid4(), uuid.uuid4()
    token = session_token(client_id)
    async with listen(one.base_url, token) as stream:
        resume_from = stream.last_id()
    assert resume_from is not None
    feed = _feed(one)
    before = sum(feed.position.values())
    for _ in range(60):  # more than the ring's 50
        await one.kafka.send(
            POSTS_STATUS, status_event(uuid.uuid4(), post_id, "published"), str(post_id)
        )
    await eventually(lambda: sum(feed.position.values()) >= before + 60, timeout=20)
    async with listen(one.base_url, token, last_event_id=resume_from) as again:
        assert again.named("ready")[0].json() == {"resumed": False}
    for garbage in ("x", "s0.-1", "q0.5", "s0.1-" * 600):
        async with listen(one.base_url, token, last_event_id=garbage) as again:
            assert again.named("ready")[0].json() == {"resumed": False}


async def opened(feed: LiveFeed, client_id: uuid.UUID) -> AsyncGenerator[ServerSentEvent, None]:
    """A new stream of ``client_id`` on ``feed`` (its page always signed in), past its
    ``ready``: the caller reads each next message with ``anext``."""
    stream = ClientStream(
        feed,
        wants=client_entries(client_id),
        last_event_id=None,
        still_signed_in=lambda: True,
        heartbeat_s=30,
    )
    events = stream.events()
    assert isinstance(events, AsyncGenerator)
    assert (await anext(events)).event == "ready"
    return events


async def test_a_feed_is_ready_only_once_read_back_so_a_new_stream_gets_nothing_older(
    kafka_bootstrap: str, kafka_idempotence: bool
) -> None:
    """CI flake of test_two_replicas…: a replica said its feed was ready once positioned,
    before it had read back its backfill (500 records a partition into a ring of 50 there).
    A stream opened then got the client's old records as new ones, and a fetch of backfill
    taken after a new record pushed that record out of the ring before the stream saw it
    (that half: test_a_replica_reads_back_no_more_than_its_ring_keeps…)."""
    client_id, post_id = uuid.uuid4(), uuid.uuid4()
    sender = Kafka(kafka_bootstrap, kafka_idempotence)
    await sender.start()
    feed = LiveFeed(kafka_bootstrap, buffer_events=10_000, backfill_per_partition=500)
    try:
        for _ in range(300):
            await sender.send(
                POSTS_STATUS, status_event(client_id, uuid.uuid4(), "published"), str(post_id)
            )
        await feed.start()
        await asyncio.wait_for(feed.ready.wait(), 20)
        assert feed.last_seq >= 300  # the client's history is read back, then ready
        events = await opened(feed, client_id)
        marker = status_event(client_id, post_id, "dispatched")
        await sender.send(POSTS_STATUS, marker, str(post_id))
        first = await asyncio.wait_for(anext(events), 20)
        assert first.event == "status"
        assert json.loads(first.data)["target_id"] == str(marker.target_id)
        await events.aclose()
    finally:
        await sender.stop()
        await feed.stop()


async def test_a_replica_reads_back_no_more_than_its_ring_keeps_so_each_partition_resumes(
    kafka_bootstrap: str, kafka_idempotence: bool
) -> None:
    """test_a_stream_dropped_on_one_replica_resumes… failed under load: a replica read back
    500 records a partition into a ring of 50, so the partitions read last pushed out the
    others' records, and a stream another replica was serving could not be resumed."""
    sender = Kafka(kafka_bootstrap, kafka_idempotence)
    await sender.start()
    feed = LiveFeed(kafka_bootstrap, buffer_events=50, backfill_per_partition=500)
    try:
        for n in range(100):
            post = uuid.uuid4()
            await sender.send(
                POSTS_STATUS, status_event(uuid.uuid4(), post, "published"), str(post)
            )
            account = AccountChanged(
                type="connected", account_id=uuid.uuid4(), client_id=uuid.uuid4(), platform="vk"
            )
            await sender.send(ACCOUNTS, account, str(n))
        await feed.start()
        await asyncio.wait_for(feed.ready.wait(), 20)
        newest = {e.tp: e.mark for e in feed.entries_after(feed.first_seq())}
        fed = {tp for tp, offset in feed.position.items() if offset > 0}
        assert {tp.topic for tp in fed} >= {POSTS_STATUS, ACCOUNTS}
        assert fed <= set(newest), sorted(map(str, fed - set(newest)))
        for tp in fed:  # a stream at the present, last passed a record of ``tp``
            assert feed.resumable(dict(feed.position), newest[tp]), tp
    finally:
        await sender.stop()
        await feed.stop()


async def test_a_stream_further_behind_than_the_replay_ring_is_told_to_reload_never_skips(
    kafka_bootstrap: str, kafka_idempotence: bool
) -> None:
    """A stream whose page does not read (a slow phone: the socket's buffers full) while
    more records arrive than the ring keeps used to go on after the gap as if nothing
    were missing. It now says ``ready`` ``{"resumed": false}`` (the page reloads its
    lists) and goes on from the present."""
    feed = LiveFeed(kafka_bootstrap, buffer_events=5, backfill_per_partition=0)
    await feed.start()
    sender = Kafka(kafka_bootstrap, kafka_idempotence)
    await sender.start()
    client_id, post_id = uuid.uuid4(), uuid.uuid4()
    try:
        await asyncio.wait_for(feed.ready.wait(), 20)
        events = await opened(feed, client_id)
        before = sum(feed.position.values())
        for _ in range(20):  # the page reads none of them meanwhile
            await sender.send(
                POSTS_STATUS, status_event(client_id, post_id, "published"), str(post_id)
            )
        await eventually(lambda: sum(feed.position.values()) >= before + 20, timeout=20)
        told = await asyncio.wait_for(anext(events), 10)
        assert (told.event, json.loads(told.data)) == ("ready", {"resumed": False})
        later = status_event(client_id, post_id, "failed")
        await sender.send(POSTS_STATUS, later, str(post_id))
        nxt = await asyncio.wait_for(anext(events), 20)
        assert nxt.event == "status"
        assert json.loads(nxt.data)["target_id"] == str(later.target_id)
        await events.aclose()
    finally:
        await sender.stop()
        await feed.stop()


def test_an_event_id_is_the_position_it_names() -> None:
    position = parse_id("s0.12-s3.4-a1.7")
    assert position is not None
    assert format_id(position) == "a1.7-s0.12-s3.4"
    assert parse_id(format_id(position)) == position
    assert parse_id(None) is None
    assert parse_id("") is None
    assert parse_id("s0.1-z1.2") is None
    # the k part names the record the id follows (where, and its Kafka timestamp in ms)
    mark = Mark(TopicPartition(POSTS_STATUS, 3), 3, 1796123969829)
    text = format_id(position, mark)
    assert text == "a1.7-s0.12-s3.4-ks3.3.1796123969829"
    assert parse_id(text) == position
    assert parse_mark(text) == mark
    assert parse_mark(format_id(position)) is None


async def test_open_streams_get_every_record_of_the_log_a_broker_restarted_empty_holds(
    own_broker: TansuBroker, tmp_path: Path
) -> None:
    """Issue 11 (fix11b): Tansu killed and restarted empty numbers records from 0 again.
    The feed read on from its old offsets, so the new log's first records (as many as it
    had read before) never reached an open stream, the old id was resumed as if nothing
    had happened, and readiness stayed green while the feed could not read. Here the new
    log grows past the old position before the feed is back, the hardest case."""
    await ensure_topics(own_broker.bootstrap)
    queue = await start_queue(
        f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}",
        own_broker.bootstrap,
        False,
        tmp_path / "media",
        kafka_ensure_topics=True,
        live_heartbeat_s=0.5,
    )
    client_id, post_id = uuid.uuid4(), uuid.uuid4()
    token = session_token(client_id)
    try:
        async with (
            listen(queue.base_url, token) as stream,
            httpx.AsyncClient(base_url=queue.base_url, timeout=10) as probe,
        ):
            for _ in range(3):
                await queue.kafka.send(
                    POSTS_STATUS, status_event(client_id, post_id, "dispatched"), str(post_id)
                )
            await eventually(lambda: len(stream.named("status")) == 3, timeout=20)
            old_id = stream.last_id()
            assert old_id is not None

            own_broker.kill()
            await eventually(lambda: _live_check(probe, "failing"), timeout=20)
            await asyncio.to_thread(own_broker.start)  # empty
            await ensure_topics(own_broker.bootstrap)
            fresh = Kafka(own_broker.bootstrap, False)
            await fresh.start()
            try:
                after = [status_event(client_id, post_id, "published") for _ in range(5)]
                for event in after:
                    await fresh.send(POSTS_STATUS, event, str(post_id))
            finally:
                await fresh.stop()

            want = [str(e.target_id) for e in after]
            await eventually(
                lambda: [m.json()["target_id"] for m in stream.named("status")][3:] == want,
                timeout=60,
            )
            reloads = [m.json() for m in stream.named("ready")]
            assert reloads == [{"resumed": False}, {"resumed": False}]
            await eventually(lambda: _live_check(probe, "ok"), timeout=20)
        async with listen(queue.base_url, token, last_event_id=old_id) as again:
            assert again.named("ready")[0].json() == {"resumed": False}  # the old log's id
    finally:
        if own_broker.pid is None:
            await asyncio.to_thread(own_broker.start)
        await queue.stop()
        await queue.kafka.stop()


async def _live_check(probe: httpx.AsyncClient, state: str) -> bool:
    body = (await probe.get("/readyz")).json()
    return bool(body.get("checks", {}).get("live") == state)


async def test_open_streams_get_every_record_of_a_new_log_after_a_restart_quicker_than_any_look(
    own_broker: TansuBroker, tmp_path: Path
) -> None:
    """Issue 11 (s8 MEDIUM): Tansu restarted empty between two of the feed's fetches, with
    no moment for anything in the process to look, and the new log already longer than
    what the feed had read: every record of the new log reaches the open stream, after a
    ``ready`` that tells the page to reload."""
    await ensure_topics(own_broker.bootstrap)
    queue = await start_queue(
        f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}",
        own_broker.bootstrap,
        False,
        tmp_path / "media",
        kafka_ensure_topics=True,
        live_heartbeat_s=0.5,
    )
    client_id, post_id = uuid.uuid4(), uuid.uuid4()
    try:
        async with listen(queue.base_url, session_token(client_id)) as stream:
            for _ in range(3):
                await queue.kafka.send(
                    POSTS_STATUS, status_event(client_id, post_id, "dispatched"), str(post_id)
                )
            await eventually(lambda: len(stream.named("status")) == 3, timeout=20)
            after = [status_event(client_id, post_id, "published") for _ in range(6)]

            async def write(bootstrap: str) -> None:
                await ensure_topics(bootstrap)
                fresh = Kafka(bootstrap, False)
                await fresh.start()
                try:
                    for event in after:
                        await fresh.send(POSTS_STATUS, event, str(post_id))
                finally:
                    await fresh.stop()

            own_broker.restart_unseen(write)  # this loop is held: no fetch in between
            want = [str(e.target_id) for e in after]
            await eventually(
                lambda: [m.json()["target_id"] for m in stream.named("status")][3:] == want,
                timeout=60,
            )
            assert [m.json() for m in stream.named("ready")][-1] == {"resumed": False}
    finally:
        await queue.stop()
        await queue.kafka.stop()
