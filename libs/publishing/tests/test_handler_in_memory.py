"""The real subscriber and runtime, driven by FastStream's in-memory TestKafkaBroker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError
from faststream.kafka import TestKafkaBroker

from cachalot_common.consuming import raw_body
from cachalot_common.events import PublishPost, PublishResult, utcnow
from cachalot_common.kafka import encode
from cachalot_common.leases import LeaseRefused, LeaseUnavailable
from cachalot_common.topics import POSTS_RESULT, dlq, publish_topic
from cachalot_publishing import outcome
from cachalot_publishing.app import PublisherParts, build_publisher_app
from cachalot_publishing.outcome import Published
from cachalot_publishing.ports import Context, TokenRejected
from cachalot_publishing.runtime import PublishRuntime

from .fakes import (
    FakeLeases,
    FakePlatform,
    eventually,
    forged_grants,
    make_command,
    settings_for,
)

TOPIC = publish_topic("tiktok")


@dataclass
class Harness:
    broker: Any
    runtime: PublishRuntime
    platform: FakePlatform
    leases: FakeLeases
    results: list[PublishResult]
    dead_letters: list[bytes]
    topic: str = TOPIC

    async def send(self, command: PublishPost) -> None:
        await self.broker.publish(
            encode(command), topic=self.topic, key=str(command.account_id).encode()
        )

    def finals(self, target_id: uuid.UUID) -> list[PublishResult]:
        return [r for r in self.results if r.target_id == target_id and r.type != "progress"]

    async def final(self, target_id: uuid.UUID, timeout: float = 10) -> PublishResult:
        await eventually(lambda: bool(self.finals(target_id)), timeout)
        return self.finals(target_id)[0]


@contextlib.asynccontextmanager
async def running(
    media_dir: Path, *, name: str = "tiktok", **overrides: Any
) -> AsyncIterator[Harness]:
    platform, leases = FakePlatform(), FakeLeases()
    topic = publish_topic(name)

    @contextlib.asynccontextmanager
    async def make_publisher(_: PublisherParts) -> AsyncIterator[FakePlatform]:
        yield platform

    app = build_publisher_app(
        settings_for(media_dir, **overrides),
        platform=name,
        make_publisher=make_publisher,
        leases=leases,
    )
    broker = app.state.broker
    results: list[PublishResult] = []
    dead: list[bytes] = []

    @broker.subscriber(POSTS_RESULT, decoder=raw_body)
    async def collect(body: bytes) -> None:
        results.append(PublishResult.model_validate_json(body))

    @broker.subscriber(dlq(topic), decoder=raw_body)
    async def parked(body: bytes) -> None:
        dead.append(body)

    async with TestKafkaBroker(broker) as test_broker, app.router.lifespan_context(app):
        yield Harness(test_broker, app.state.runtime, platform, leases, results, dead, topic)


async def test_a_command_gets_exactly_one_published_result(media_dir, video) -> None:
    async with running(media_dir) as h:
        command = make_command(video)
        await h.send(command)
        result = await h.final(command.target_id)
        await h.runtime.wait_idle()
        assert (result.type, result.remote_id) == ("published", f"remote-{command.target_id}")
        assert len(h.finals(command.target_id)) == 1
        assert result.bytes_total == video.size


@pytest.mark.parametrize(
    ("name", "label", "sent_as"),
    [("telegram", "Telegram", "unknown"), ("tiktok", "TikTok", "retryable")],
)
async def test_an_unknown_outcome_reaches_the_queue_as_unknown_only_where_the_platform_cannot_look_the_post_up(  # noqa: E501
    media_dir, video, name, label, sent_as
) -> None:
    async with running(media_dir, name=name) as h:
        command = make_command(video, platform=name)

        async def answer_lost(_: PublishPost, __: Context) -> Published:
            raise outcome.unknown(label, "channel")

        h.platform.scripts[command.target_id] = answer_lost
        await h.send(command)
        result = await h.final(command.target_id)
        assert (result.type, result.code) == (sent_as, "outcome_unknown")
        assert result.reason is not None
        assert "could not confirm" in result.reason
        assert "fail" not in result.reason.lower()
        assert not result.reauth_required


def _answered_503() -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://platform.example/upload")
    response = httpx.Response(503, request=request)
    return httpx.HTTPStatusError("503", request=request, response=response)


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (httpx.ConnectError("refused"), "network", "TikTok could not be reached (ConnectError)"),
        (httpx.ReadTimeout("slow"), "network", "TikTok could not be reached (ReadTimeout)"),
        (_answered_503(), "platform_unavailable", "TikTok answered 503"),
        (KeyError("remote_id"), "internal_error", "publisher failed unexpectedly (KeyError)"),
    ],
)
async def test_the_platforms_http_failing_ends_as_the_shared_network_or_unavailable_code_where_a_platform_did_not_map_it(  # noqa: E501
    media_dir, video, error, code, reason
) -> None:
    """newplat F8: every publisher mapped httpx's errors itself; one that forgot reported
    the platform down as our own internal error. The runtime maps what escapes."""
    async with running(media_dir) as h:
        command = make_command(video)

        async def fails(_: PublishPost, __: Context) -> Published:
            raise error

        h.platform.scripts[command.target_id] = fails
        await h.send(command)
        result = await h.final(command.target_id)
        assert (result.type, result.code) == ("retryable", code)
        assert result.reason is not None
        assert reason in result.reason
        assert "platform.example" not in result.reason  # never a URL


async def test_an_undecodable_command_goes_to_the_dlq_and_the_next_one_publishes(
    media_dir, video
) -> None:
    async with running(media_dir) as h:
        await h.broker.publish(b'{"type": "publish_video"}', topic=TOPIC, key=b"k")
        command = make_command(video)
        await h.send(command)
        assert (await h.final(command.target_id)).type == "published"
        assert len(h.dead_letters) == 1


async def test_a_batch_of_records_is_handed_over_one_by_one_and_a_poison_one_is_parked(
    media_dir, video
) -> None:
    async with running(media_dir) as h:
        commands = [make_command(video) for _ in range(3)]
        bodies = [encode(commands[0]), b'{"type": "publish_video"}', *map(encode, commands[1:])]
        await h.broker.publish_batch(*bodies, topic=TOPIC)
        for command in commands:
            assert (await h.final(command.target_id)).type == "published"
        await h.runtime.wait_idle()
        assert len(h.dead_letters) == 1
        assert all(len(h.finals(c.target_id)) == 1 for c in commands)


async def test_an_unexpected_error_is_a_retryable_internal_error_naming_only_its_type(
    media_dir, video
) -> None:
    async def boom(command: PublishPost, ctx: Context) -> Published:
        raise KeyError("access_token=very-secret-value")

    async with running(media_dir) as h:
        command = make_command(video)
        h.platform.scripts[command.target_id] = boom
        await h.send(command)
        result = await h.final(command.target_id)
        assert (result.type, result.code) == ("retryable", "internal_error")
        assert "KeyError" in (result.reason or "")
        assert "very-secret-value" not in result.model_dump_json()


async def test_a_wait_longer_than_the_inline_maximum_goes_back_to_the_queue_in_full(
    media_dir, video
) -> None:
    async def rate_limited(command: PublishPost, ctx: Context) -> Published:
        await ctx.sleep(330, code="rate_limited", reason="TikTok's rate limit was reached.")
        raise AssertionError("a 330 s wait must not be slept")

    async def short_wait(command: PublishPost, ctx: Context) -> Published:
        await ctx.sleep(0.05, code="rate_limited", reason="short")
        return Published("after-a-short-wait")

    async with running(media_dir) as h:
        long, short = make_command(video), make_command(video)
        h.platform.scripts[long.target_id] = rate_limited
        h.platform.scripts[short.target_id] = short_wait
        await h.send(long)
        await h.send(short)
        result = await h.final(long.target_id)
        assert (result.type, result.code) == ("retryable", "rate_limited")
        # in full, to the next whole second from when it was read (one window, one end)
        assert 330 <= (result.retry_after_s or 0) < 331
        ends = result.occurred_at + timedelta(seconds=result.retry_after_s or 0)
        assert ends.microsecond < 1_000 or ends.microsecond > 999_000, ends
        assert (await h.final(short.target_id)).remote_id == "after-a-short-wait"


async def test_a_refused_token_gets_one_forced_refresh_and_a_second_refusal_asks_for_reauth(
    media_dir, video
) -> None:
    refusals: dict[uuid.UUID, int] = {}

    def refusing(times: int):
        async def publish(command: PublishPost, ctx: Context) -> Published:
            async def call(token: str) -> str:
                seen = refusals.setdefault(command.target_id, 0)
                if seen < times:
                    refusals[command.target_id] = seen + 1
                    raise TokenRejected
                return token

            token = await ctx.call_with_token(call)
            return Published(f"with-{token[:5]}")

        return publish

    async with running(media_dir) as h:
        once, twice = make_command(video), make_command(video)
        h.platform.scripts[once.target_id] = refusing(1)
        h.platform.scripts[twice.target_id] = refusing(2)
        await h.send(once)
        await h.send(twice)
        assert (await h.final(once.target_id)).type == "published"
        reauth = await h.final(twice.target_id)
        assert (reauth.type, reauth.code, reauth.reauth_required) == (
            "failed",
            "reauth_required",
            True,
        )
        assert "Reconnect TikTok" in (reauth.reason or "")
        forced = [c["force_refresh"] for c in h.leases.calls if c["account_id"] == once.account_id]
        assert forced == [False, True]


async def test_lease_failures_are_retryable_or_refused_with_the_shared_codes(
    media_dir, video
) -> None:
    async def with_token(command: PublishPost, ctx: Context) -> Published:
        async def call(token: str) -> str:
            return token

        await ctx.call_with_token(call)
        return Published("x")

    async with running(media_dir) as h:
        down, refused = make_command(video), make_command(video)
        h.leases.failures[down.account_id] = LeaseUnavailable("auth unreachable")
        h.leases.failures[refused.account_id] = LeaseRefused(403, "not_owner", "refused")
        for command in (down, refused):
            h.platform.scripts[command.target_id] = with_token
            await h.send(command)
        assert (await h.final(down.target_id)).code == "lease_unavailable"
        result = await h.final(refused.target_id)
        assert (result.type, result.code) == ("failed", "lease_refused")
        assert "not_owner" in (result.reason or "")


async def test_a_result_says_when_its_attempt_had_its_lease_and_none_when_auth_refused_it(
    media_dir, video
) -> None:
    tokens: list[str] = []
    between: list[datetime] = []

    async def with_token(command: PublishPost, ctx: Context) -> Published:
        async def call(token: str) -> str:
            return token

        tokens.append(await ctx.call_with_token(call))
        between.append(utcnow())
        tokens.append(
            await ctx.call_with_token(call)
        )  # a second call: the same lease, the same time
        return Published("x")

    async with running(media_dir) as h:
        leased, refused = make_command(video), make_command(video)
        h.leases.failures[refused.account_id] = LeaseRefused(403, "not_owner", "refused")
        for command in (leased, refused):
            h.platform.scripts[command.target_id] = with_token
        before = utcnow()
        for command in (leased, refused):
            await h.send(command)
        published = await h.final(leased.target_id)
        assert published.type == "published"
        assert published.leased_at is not None
        assert before <= published.leased_at <= utcnow()
        assert (await h.final(refused.target_id)).leased_at is None
    # the second call of the attempt: the same lease (one lease asked, the same token) and
    # the result's time is the first lease's, from before the second call
    assert tokens[0] == tokens[1]
    assert [c["account_id"] for c in h.leases.calls].count(leased.account_id) == 1
    assert published.leased_at <= between[0]


async def test_an_accounts_lease_is_reused_only_for_commands_whose_grant_names_it(
    media_dir, video
) -> None:
    async def with_token(command: PublishPost, ctx: Context) -> Published:
        async def call(token: str) -> str:
            return token

        return Published(await ctx.call_with_token(call))

    async with running(media_dir) as h:
        account, client = uuid.uuid4(), uuid.uuid4()
        first = make_command(video, account_id=account, client_id=client)
        second = make_command(video, account_id=account, client_id=client)
        no_grant = make_command(video, account_id=account, client_id=client, grant=False)
        other_client = make_command(video, account_id=account)
        for command in (first, second, no_grant, other_client):
            h.platform.scripts[command.target_id] = with_token
            await h.send(command)
            await h.final(command.target_id)
        tokens = [(await h.final(c.target_id)).remote_id for c in (first, second)]
        assert tokens[0] == tokens[1], "the second command of the account reused the lease"
        assert len(h.leases.calls) == 3, "no grant, or another client's grant: auth is asked"
        assert [c["grant"] for c in h.leases.calls] == [
            first.grant,
            no_grant.grant,
            other_client.grant,
        ]


async def test_a_post_planned_by_a_cached_lease_whose_destination_changed_is_planned_again(
    media_dir, video
) -> None:
    """lease10: the first post after a relink went to the old channel (the cached lease's)."""

    async def to_destination(command: PublishPost, ctx: Context) -> Published:
        destination = (await ctx.lease()).destination
        await ctx.confirm_lease()
        return Published(str(destination))

    async with running(media_dir) as h:
        account, client = uuid.uuid4(), uuid.uuid4()
        h.leases.destinations[account] = "-1001"
        first = make_command(video, account_id=account, client_id=client)
        h.platform.scripts[first.target_id] = to_destination
        await h.send(first)
        assert (await h.final(first.target_id)).remote_id == "-1001"
        h.leases.destinations[account] = "-1002"  # relinked; the publisher's cache holds -1001
        second = make_command(video, account_id=account, client_id=client)
        h.platform.scripts[second.target_id] = to_destination
        await h.send(second)
        result = await h.final(second.target_id)
        assert (result.type, result.remote_id) == ("published", "-1002")
        assert h.platform.started.count(second.target_id) == 2  # planned again, once
        assert len(h.finals(second.target_id)) == 1


async def test_commands_forged_onto_the_topic_never_publish_with_the_accounts_cached_token(
    media_dir, video
) -> None:
    """Someone who can write to posts.publish.tiktok.v1 copies a real command's ids
    (account, client) into new commands whose grants the queue did not sign."""
    used: dict[uuid.UUID, str] = {}

    async def with_token(command: PublishPost, ctx: Context) -> Published:
        async def call(token: str) -> str:
            used[command.target_id] = token
            return token

        return Published(await ctx.call_with_token(call))

    async with running(media_dir) as h:
        account, client = uuid.uuid4(), uuid.uuid4()
        real = make_command(video, account_id=account, client_id=client)
        h.platform.scripts[real.target_id] = with_token
        await h.send(real)
        assert (await h.final(real.target_id)).type == "published"
        forged = []
        for name in forged_grants(real):
            command = make_command(video, account_id=account, client_id=client)
            forged.append(command.model_copy(update={"grant": forged_grants(command)[name]}))
        for command in forged:
            h.platform.scripts[command.target_id] = with_token
            await h.send(command)
        for command in forged:
            result = await h.final(command.target_id)
            assert (result.type, result.code) == ("failed", "lease_refused")
        assert set(used) == {real.target_id}, "no forged command got a token"
        assert len(h.leases.calls) == 1 + len(forged), "each forged command went to auth"


async def test_the_media_file_check_names_the_fault(media_dir, video) -> None:
    async def needs_file(command: PublishPost, ctx: Context) -> Published:
        ctx.media_file()
        return Published("x")

    async with running(media_dir) as h:
        missing = make_command(video)
        missing = missing.model_copy(
            update={"media": missing.media.model_copy(update={"path": "gone.mp4"})}
        )
        changed = make_command(video)
        changed = changed.model_copy(
            update={"media": changed.media.model_copy(update={"size": video.size + 1})}
        )
        outside = make_command(video)
        outside = outside.model_copy(
            update={"media": outside.media.model_copy(update={"path": "../../etc/passwd"})}
        )
        expected = {missing: "media_missing", changed: "media_changed", outside: "media_invalid"}
        for command in expected:
            h.platform.scripts[command.target_id] = needs_file
            await h.send(command)
        for command, code in expected.items():
            assert (await h.final(command.target_id)).code == code


async def test_a_command_for_another_platform_fails_as_wrong_platform(media_dir, video) -> None:
    async with running(media_dir) as h:
        command = make_command(video, platform="youtube")
        await h.send(command)
        result = await h.final(command.target_id)
        assert (result.type, result.code) == ("failed", "wrong_platform")
        assert h.platform.started == []


async def test_a_slow_account_does_not_delay_another_and_an_account_keeps_its_order(
    media_dir, video
) -> None:
    gate = asyncio.Event()

    async def slow(command: PublishPost, ctx: Context) -> Published:
        await gate.wait()
        return Published("slow")

    async with running(media_dir) as h:
        a = uuid.uuid4()
        a_first = make_command(video, account_id=a)
        a_later = [make_command(video, account_id=a) for _ in range(5)]
        b = make_command(video)
        h.platform.scripts[a_first.target_id] = slow
        for command in (a_first, *a_later, b):
            await h.send(command)
        assert (await h.final(b.target_id)).type == "published"
        assert h.platform.started[:1] == [a_first.target_id]
        assert not any(h.finals(c.target_id) for c in a_later), "a's later posts wait their turn"
        gate.set()
        for command in a_later:
            await h.final(command.target_id)
        order = [t for t in h.platform.finished if t in {c.target_id for c in (a_first, *a_later)}]
        assert order == [c.target_id for c in (a_first, *a_later)]


async def test_no_more_publishes_run_at_once_than_the_concurrency_and_waits_free_a_slot(
    media_dir, video
) -> None:
    gate = asyncio.Event()

    async def busy(command: PublishPost, ctx: Context) -> Published:
        await gate.wait()
        return Published("busy")

    async def waits(command: PublishPost, ctx: Context) -> Published:
        await ctx.sleep(0.5, code="processing_timeout", reason="processing")
        return Published("done")

    async with running(media_dir, publish_concurrency=2) as h:
        blocked = [make_command(video) for _ in range(3)]
        for command in blocked:
            h.platform.scripts[command.target_id] = busy
            await h.send(command)
        await eventually(lambda: len(h.platform.started) == 2)
        await asyncio.sleep(0.1)
        assert len(h.platform.started) == 2, "a third publish started past the bound"
        gate.set()
        for command in blocked:
            await h.final(command.target_id)

        sleepers = [make_command(video) for _ in range(4)]
        for command in sleepers:
            h.platform.scripts[command.target_id] = waits
            await h.send(command)
        quick = make_command(video)
        await h.send(quick)
        await h.final(quick.target_id, timeout=0.4)  # while all four sleep
        for command in sleepers:
            await h.final(command.target_id)


async def test_a_publish_quicker_than_the_progress_interval_sends_only_its_final_result(
    media_dir, video
) -> None:
    async def uploads(command: PublishPost, ctx: Context) -> Published:
        for sent in range(10, 101, 10):
            await ctx.progress(sent, 100)
        return Published("x")

    async with running(media_dir, publish_progress_interval_s=60) as h:
        command = make_command(video)
        h.platform.scripts[command.target_id] = uploads
        await h.send(command)
        final = await h.final(command.target_id)
        assert [r.type for r in h.results if r.target_id == command.target_id] == ["published"]
        assert (final.bytes_sent, final.bytes_total) == (command.media.size, command.media.size)


async def test_progress_is_throttled_and_once_reported_the_last_report_always_goes(
    media_dir, video
) -> None:
    async def uploads(command: PublishPost, ctx: Context) -> Published:
        await asyncio.sleep(0.25)  # past the interval: the first report goes
        for sent in range(10, 101, 10):
            await ctx.progress(sent, 100)
        return Published("x")

    async with running(media_dir, publish_progress_interval_s=0.2) as h:
        command = make_command(video)
        h.platform.scripts[command.target_id] = uploads
        await h.send(command)
        await h.final(command.target_id)
        sent = [r.bytes_sent for r in h.results if r.type == "progress"]
        # quiet: [10, 100]; a stalled loop (a loaded machine) may let one more through
        assert (sent[0], sent[-1]) == (10, 100), sent
        assert len(sent) < 5, sent


async def test_finished_commands_are_committed_in_partition_order(media_dir, video) -> None:
    gate = asyncio.Event()

    async def slow(command: PublishPost, ctx: Context) -> Published:
        await gate.wait()
        return Published("slow")

    async with running(media_dir) as h:
        first, second = make_command(video), make_command(video)
        h.platform.scripts[first.target_id] = slow
        await h.send(first)
        await h.send(second)
        await h.final(second.target_id)
        await asyncio.sleep(0.2)
        assert not h.runtime.commits, "the second finished, but the first holds the offset"
        gate.set()
        await h.final(first.target_id)
        await eventually(lambda: bool(h.runtime.commits))
        assert list(h.runtime.commits[-1].values()) == [2]


pytestmark = pytest.mark.timeout(60)


class _Consumer(AIOKafkaConsumer):
    """A consumer whose commits the group coordinator refuses until ``refusing`` is False."""

    def __init__(self) -> None:  # no client: only what the runtime's commits use
        self._closed = True
        # a member of its group (generation, member id), as a consumer whose commits
        # reach the coordinator is: the runtime commits only as one
        # (cachalot_common.kafka.group_membership reads it there)
        self._coordinator = SimpleNamespace(generation=1, member_id="publisher-tiktok-1")
        self.refusing = True
        self.committed: list[dict[Any, int]] = []

    def assignment(self) -> set[Any]:
        return {TopicPartition(TOPIC, p) for p in range(16)}

    async def commit(self, offsets: dict[Any, int]) -> None:
        if self.refusing:
            raise CommitFailedError("the group rebalanced")
        self.committed.append(offsets)


async def test_refused_offset_commits_are_reported_to_the_broker_watch_until_one_succeeds(
    media_dir, video
) -> None:
    """The broker watch restarts a consumer whose commits keep failing; it can only do so
    for the publisher if the runtime's own commits are reported to it."""
    async with running(media_dir) as h:
        consumer = _Consumer()
        assert h.runtime.health is not None, "the runtime reports to no broker watch"
        h.runtime.attach(h.platform, lambda: consumer)
        command = make_command(video)
        await h.send(command)
        await h.final(command.target_id)
        await eventually(
            lambda: h.runtime.health is not None and h.runtime.health.commit_failures > 0
        )
        assert h.runtime.health.failing_for_s() > 0

        consumer.refusing = False
        await eventually(lambda: bool(consumer.committed))
        await eventually(
            lambda: h.runtime.health is not None and h.runtime.health.failing_since is None
        )
