"""End to end, issue 9 item 5: order per account, and a publisher killed mid-upload.

One account's 20 posts due at once are published in their scheduled order.
A publisher killed with uploads in flight loses and doubles nothing: the
stack runs without its own publisher-tiktok; each test runs that service
itself (``EmbeddedStack.spawn``: the environment embedded mode gives it, the
same SQLite database) so it can ``kill -9`` it. Twenty posts of ten accounts
(two each, five clients) are due at once, with a distinct video each; the
sandbox throttles uploads so that every account has one upload in flight and
one command waiting behind it (an account's commands run in order) when the
publisher dies. Then either the same service starts again or a second replica
already in the group takes the partitions over. Every video must be on the
sandbox exactly once, with the bytes we queued.
"""

from __future__ import annotations

import struct
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cachalot_testing.broker import TansuBroker
from cachalot_testing.clients import connect_tiktok, create_post, iso_at, upload_media
from cachalot_testing.distributed import DistributedStack
from cachalot_testing.media import video_file
from cachalot_testing.processes import ServiceProcess
from cachalot_testing.stack import EmbeddedStack

Stack = EmbeddedStack | DistributedStack

pytestmark = pytest.mark.e2e

VIDEO = video_file()
ACCOUNTS = 10
POSTS_PER_ACCOUNT = 2
THROTTLE_BPS = 2500  # the 8.5 KB sample takes ~3.5 s to upload


@pytest.fixture(scope="module")
def crash_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """Gateway, auth, queue and sandbox; publisher-tiktok is the tests' own.

    On a broker of its own: the session's broker also serves the whole-system
    stack, whose publisher-tiktok is in the same consumer group and would take
    partitions (and commands naming this stack's media) from the tests' replicas.
    """
    broker = TansuBroker(log_path=tmp_path_factory.mktemp("crash-tansu") / "tansu.log").start()
    running = EmbeddedStack(
        tmp_path_factory.mktemp("crash-var"),
        services=("auth", "queue"),
        kafka_bootstrap=broker.bootstrap,
        env={
            "CACHALOT_AUTH_RATE_LIMIT": "10000/minute",
            # Tansu, as embedded mode runs it: a dead member leaves the group in ~3 s
            "CACHALOT_KAFKA_SESSION_TIMEOUT_MS": "3000",
            # TikTok's per-user quotas (6 inits a minute) would make 20 posts of one
            # account take 3 minutes; their handling is tested in libs/publishing
            "CACHALOT_TIKTOK_CREATOR_INFO_PER_MINUTE": "100000",
            "CACHALOT_TIKTOK_INIT_PER_MINUTE": "100000",
            "CACHALOT_TIKTOK_STATUS_PER_MINUTE": "100000",
        },
    ).start()
    try:
        yield running
    finally:
        running.stop()
        broker.stop()


def _video(n: str) -> bytes:
    """The sample with a trailing ISO-BMFF ``free`` box: a distinct, valid MP4."""
    payload = n.encode()
    return VIDEO.read_bytes() + struct.pack(">I", 8 + len(payload)) + b"free" + payload


def _sandbox(stack: Stack) -> dict[str, Any]:
    return dict(httpx.get(f"{stack.sandbox}/sandbox/tiktok/posts", timeout=10).json())


def _queue_load(stack: Stack, run: str, *, due_in_s: float | None = 3) -> dict[str, str]:
    """Five clients of two accounts, two posts each due ``due_in_s`` seconds after their
    upload (``None``: to publish now); post id → sha256 of its video."""
    expected: dict[str, str] = {}
    bodies = []
    for c in range(ACCOUNTS // 2):
        with httpx.Client(timeout=30) as http:
            accounts = [
                connect_tiktok(http, stack.gateway, f"sandbox-extra-{run}-{c}-{a}")
                for a in range(2)
            ]
            for account in accounts:
                for p in range(POSTS_PER_ACCOUNT):
                    media = upload_media(http, stack.gateway, _video(f"{run}/{account}/{p}"))
                    bodies.append(
                        (
                            http.cookies,
                            media["sha256"],
                            {
                                "media_id": media["id"],
                                "targets": [
                                    {
                                        "account_id": account,
                                        "tiktok": {
                                            "privacy_level": "SELF_ONLY",
                                            "caption": f"{run} {p}",
                                        },
                                    }
                                ],
                            }
                            | (
                                {}
                                if due_in_s is None
                                else {"scheduled_at": iso_at(time.time() + due_in_s)}
                            ),
                        )
                    )
    for cookies, sha, body in bodies:
        with httpx.Client(timeout=30, cookies=cookies) as http:
            expected[create_post(http, stack.gateway, body)] = sha
    return expected


def _wait_uploading(stack: Stack, at_least: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        publishes = _sandbox(stack)["publishes"]
        if sum(1 for p in publishes if p["upload_completed_at"] is None) >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {at_least} uploads in flight: {_sandbox(stack)}")


def _wait_published(stack: Stack, expected: dict[str, str], timeout: float = 45) -> None:
    wanted = set(expected.values())
    deadline = time.monotonic() + timeout
    counts: dict[str, int] = {}
    while time.monotonic() < deadline:
        counts = _sandbox(stack)["counts_by_sha256"]
        if wanted <= set(counts):
            break
        time.sleep(0.2)
    time.sleep(1.5)  # a late duplicate would show up now
    posts = _sandbox(stack)["posts"]
    mine = [p for p in posts if p["sha256"] in wanted]
    seen = {sha: sum(1 for p in mine if p["sha256"] == sha) for sha in wanted}
    # the sandbox hashes the bytes it received: the same SHA-256 is the same video, complete
    assert seen == dict.fromkeys(wanted, 1), f"each video exactly once: {seen}"


def _throttle(stack: Stack, bps: int) -> None:
    httpx.post(
        f"{stack.sandbox}/sandbox/tiktok/config",
        json={"upload_throttle_bps": bps, "processing_delay_s": 0, "rate_limits_enabled": False},
        timeout=10,
    ).raise_for_status()


def test_a_publisher_killed_with_twenty_uploads_in_hand_publishes_each_video_once_after_a_restart(
    crash_stack: EmbeddedStack, tmp_path: Path
) -> None:
    publisher = crash_stack.spawn("publisher-tiktok", log_path=tmp_path / "publisher.log")
    publisher.start(timeout=60)
    try:
        _throttle(crash_stack, THROTTLE_BPS)
        expected = _queue_load(crash_stack, f"r{uuid.uuid4().hex[:6]}")
        _wait_uploading(crash_stack, at_least=ACCOUNTS)
        publisher.kill()
        _throttle(crash_stack, 0)
        publisher.start(timeout=60)
        _wait_published(crash_stack, expected)
    finally:
        publisher.stop()


def test_a_second_replica_takes_over_a_killed_publishers_uploads_and_publishes_each_once(
    crash_stack: EmbeddedStack, tmp_path: Path
) -> None:
    first = crash_stack.spawn("publisher-tiktok", log_path=tmp_path / "first.log")
    second = crash_stack.spawn("publisher-tiktok", log_path=tmp_path / "second.log")
    replicas: list[ServiceProcess] = [first.start(timeout=60), second.start(timeout=60)]
    try:
        _throttle(crash_stack, THROTTLE_BPS)
        expected = _queue_load(crash_stack, f"k{uuid.uuid4().hex[:6]}")
        _wait_uploading(crash_stack, at_least=ACCOUNTS)
        first.kill()
        _throttle(crash_stack, 0)
        _wait_published(crash_stack, expected)
        assert "Traceback" not in second.output()
    finally:
        for replica in replicas:
            replica.stop()


def test_twenty_posts_of_one_account_due_at_once_are_published_in_their_scheduled_order(
    crash_stack: EmbeddedStack, tmp_path: Path
) -> None:
    publisher = crash_stack.spawn("publisher-tiktok", log_path=tmp_path / "publisher.log")
    publisher.start(timeout=60)
    try:
        _throttle(crash_stack, 0)
        user = f"sandbox-extra-order-{uuid.uuid4().hex[:8]}"
        with httpx.Client(timeout=30) as http:
            account = connect_tiktok(http, crash_stack.gateway, user)
            media = upload_media(http, crash_stack.gateway, VIDEO.read_bytes())
            # scheduled 1 ms apart, created in reverse, all due by the time the last is created
            due = time.time() + 2
            for n in reversed(range(20)):
                body = {
                    "media_id": media["id"],
                    "scheduled_at": iso_at(due + n / 1000),
                    "targets": [
                        {
                            "account_id": account,
                            "tiktok": {"privacy_level": "SELF_ONLY", "caption": f"#{n:02d}"},
                        }
                    ],
                }
                create_post(http, crash_stack.gateway, body)
        deadline = time.monotonic() + 45
        mine: list[str] = []
        while time.monotonic() < deadline and len(mine) < 20:
            time.sleep(0.3)
            # the sandbox lists publishes in the order they began (init)
            mine = [
                p["post_info"]["title"]
                for p in _sandbox(crash_stack)["posts"]
                if p["open_id"] == user
            ]
        assert mine == [f"#{n:02d}" for n in range(20)]
    finally:
        publisher.stop()


def test_a_queue_replica_and_a_publisher_replica_killed_mid_upload_lose_and_double_nothing(
    distributed_stack: DistributedStack,
) -> None:
    """The deploy files' layout (two replicas of each): with twenty uploads in flight,
    ``kill -9`` of the first queue and the first TikTok publisher; the survivors take their
    partitions over (the gateway sends the clients to the queue left) and every video is on
    the platform exactly once. The killed replicas start again afterwards, as compose's
    ``restart: unless-stopped`` does."""
    stack = distributed_stack
    try:
        _throttle(stack, THROTTLE_BPS)
        # to publish at once: twenty uploads on a loaded machine outlast a due time
        expected = _queue_load(stack, f"d{uuid.uuid4().hex[:6]}", due_in_s=None)
        _wait_uploading(stack, at_least=ACCOUNTS // 2, timeout=90)
        stack.kill("queue", 0)
        stack.kill("publisher-tiktok", 0)
        _throttle(stack, 0)
        _wait_published(stack, expected, timeout=120)
        for survivor in ("queue", "publisher-tiktok"):
            assert "Traceback" not in stack.processes[survivor][1].output(), survivor
    finally:
        _throttle(stack, 0)
        stack.restart("queue", 0, timeout=240)
        stack.restart("publisher-tiktok", 0, timeout=240)
