"""Publishing pipeline throughput, due→published latency and CPU per post, beside raw Kafka.

Starts a Tansu broker and the whole embedded system on it (as ``make dev``
runs it, on free ports), makes the sandbox's TikTok zero-delay and
unthrottled (and YouTube's quota unlimited), and makes 20 clients of 5
accounts each per platform (``--platforms``, TikTok by default: 100 accounts)
through the real sign-in redirects (the sandbox's consent answers for
``sandbox-extra-*`` users, and gives the Google ones a channel), one video each.
Then, on the same broker, the raw round trip: ``--raw`` messages (20,000)
produced as fast as aiokafka takes them (acks=all) to a topic with as many
partitions as the publish topics, read by a group consumer: msgs/s = N /
(last received − first send), latency = received − send call (so it includes
the queueing of a full buffer: capacity, not one message's latency).

Then N one-target posts (2,000), round-robin over the accounts (with
``--platforms tiktok,youtube,vk`` a third go to each; :data:`OPTIONS` lists the platforms
it drives), created ahead (due in an hour, so no create can be late however slowly
creation goes), then all moved by ``PATCH`` to one due time T chosen a little after the
last of those (from the slower of the creation rate and the first 64 reschedules'): it
measures publishing, not creation.
The bench watches ``posts.status.v1`` from Kafka (no consumer group, no
request to any service), so it adds no load to the system it measures:

* latency of a post = the ``occurred_at`` of its ``published`` status event − T;
* posts/s = N / (last published − T);
* CPU ms per published post of each process (utime + stime from
  ``/proc/<pid>/stat``) over the drain window T − 0.5 s → last published + 2 s,
  our services (idle publishers included) apart from the sandbox (the platforms' fake)
  and the broker; and per post over the creation and the rescheduling windows.

Run: ``uv run python bench/pipeline.py [--posts 2000] [--quick]
[--platforms tiktok,youtube,vk]`` (``--profile DIR`` records py-spy speedscope
profiles of the services during the drain; ``--env NAME=VALUE`` passes a
setting to every service, for A/B runs; ``--due-factor`` gives the rescheduling
more time on a loaded machine, where rescheduling slows down).
Exit status 1 if any post failed or never finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cachalot_common.topics import POSTS_STATUS
from cachalot_testing.broker import TansuBroker
from cachalot_testing.clients import connect_account, upload_media
from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

ROOT = Path(__file__).resolve().parents[1]
VIDEO = video_file()
PUBLISH_PARTITIONS = 4  # as embedded mode creates posts.publish.<platform>
UNLIMITED = 1_000_000

# What the publishers would otherwise hold back on (client-side TikTok limits).
STACK_ENV = {
    "CACHALOT_TIKTOK_CREATOR_INFO_PER_MINUTE": str(UNLIMITED),
    "CACHALOT_TIKTOK_INIT_PER_MINUTE": str(UNLIMITED),
    "CACHALOT_TIKTOK_STATUS_PER_MINUTE": str(UNLIMITED),
    "CACHALOT_LOG_LEVEL": "WARNING",
    # 100 sign-ins from one address in a minute
    "CACHALOT_AUTH_RATE_LIMIT": "100000/minute",
}


@dataclass
class Stats:
    count: int
    per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float


def summarize(latencies_s: list[float], span_s: float) -> Stats:
    ordered = sorted(latencies_s)
    if not ordered:
        return Stats(0, 0.0, float("nan"), float("nan"), float("nan"))
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else []
    p50 = statistics.median(ordered)
    p99 = cuts[98] if cuts else ordered[0]
    return Stats(
        len(ordered),
        len(ordered) / span_s if span_s > 0 else 0.0,
        p50 * 1e3,
        p99 * 1e3,
        ordered[-1] * 1e3,
    )


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def parse_ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


# --- the stack -------------------------------------------------------------------------


def relax_sandbox(sandbox: str) -> None:
    """Zero processing delay, no rate limits, no upload throttle, YouTube quota to spare."""
    httpx.post(
        f"{sandbox}/sandbox/tiktok/config",
        json={"rate_limits_enabled": False, "processing_delay_s": 0, "upload_throttle_bps": 0},
        timeout=10,
    ).raise_for_status()
    httpx.post(
        f"{sandbox}/sandbox/youtube/quota",
        json={"daily_units": 10**12, "used_units": 0, "channel_daily_uploads": 10**9},
        timeout=10,
    ).raise_for_status()


def cpu_ticks(pids: dict[str, int]) -> dict[str, int]:
    """utime + stime (clock ticks) of each process, from ``/proc/<pid>/stat``."""
    ticks: dict[str, int] = {}
    for name, pid in pids.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks[name] = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return ticks


def cpu_ms(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    tick = os.sysconf("SC_CLK_TCK")
    return {n: (after[n] - before[n]) * 1e3 / tick for n in after if n in before}


def stack_pids(stack: EmbeddedStack, broker: TansuBroker) -> dict[str, int]:
    """Every process of the measured system: services, sandbox, broker, gateway."""
    pids = dict(stack.processes())
    if stack.pid:  # the supervisor process also serves the gateway
        pids["gateway"] = stack.pid
    if broker.pid:
        pids["kafka"] = broker.pid
    return pids


def make_clients(
    stack: EmbeddedStack, clients: int, accounts_each: int, platforms: list[str]
) -> list[tuple[httpx.Cookies, str, list[tuple[str, str]]]]:
    """``clients`` clients with ``accounts_each`` accounts per platform and one video each.

    Through the public paths: the sandbox's consent answered for ``sandbox-extra-*``
    users, ``POST /api/v1/media``. Each: (session cookies, media id, [(platform,
    account id)], platforms interleaved).
    """
    run = uuid.uuid4().hex[:6]

    def one(c: int) -> tuple[httpx.Cookies, str, list[tuple[str, str]]]:
        with httpx.Client(timeout=60) as http:
            accounts = [
                (
                    platform,
                    connect_account(
                        http, stack.gateway, platform, f"sandbox-extra-{run}-{c}-{a}-{platform[0]}"
                    ),
                )
                for a in range(accounts_each)
                for platform in platforms
            ]
            media = upload_media(http, stack.gateway, VIDEO.read_bytes())
            return http.cookies, str(media["id"]), accounts

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(clients)))


OPTIONS: dict[str, dict[str, Any]] = {
    "tiktok": {"caption": "bench {n}", "privacy_level": "SELF_ONLY"},  # TikTok: no default
    "youtube": {"title": "bench {n}"},
    "vk": {"message": "bench {n}"},
}
"""The platforms this bench drives, each with its video post's block (``{n}``: the post's
number). Not here: Telegram (its account posts only once a channel is linked through the
Login Widget, not an OAuth redirect) and Instagram (a Reel needs 3 s or more at 23 fps or
more, and its 24-hour publishing quota would stop 2,000 posts over 100 accounts)."""


def post_body(media_id: str, account: tuple[str, str], n: int, due: str) -> dict[str, Any]:
    platform, account_id = account
    options = {k: v.format(n=n) if isinstance(v, str) else v for k, v in OPTIONS[platform].items()}
    return {
        "media_id": media_id,
        "scheduled_at": due,
        "targets": [{"account_id": account_id, platform: options}],
    }


async def create_posts(
    clients: list[httpx.AsyncClient],
    gateway: str,
    bodies: list[tuple[int, dict[str, Any]]],
    concurrency: int,
) -> list[str]:
    """Create every post (Idempotency-Key each) as its client; retry while the queue learns."""
    gate = asyncio.Semaphore(concurrency)
    transport_errors: list[str] = []

    async def one(owner: int, body: dict[str, Any]) -> str:
        key = str(uuid.uuid4())
        deadline = time.monotonic() + 30
        async with gate:
            while True:
                try:
                    response = await clients[owner].post(
                        f"{gateway}/api/v1/posts", json=body, headers={"Idempotency-Key": key}
                    )
                except httpx.TransportError as error:  # the Idempotency-Key makes a retry
                    transport_errors.append(type(error).__name__)  # safe; counted, printed
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.3)
                    continue
                if response.status_code in (200, 201):
                    return str(response.json()["id"])
                if time.monotonic() > deadline:
                    raise RuntimeError(f"create failed: {response.status_code} {response.text}")
                await asyncio.sleep(0.3)

    ids = list(await asyncio.gather(*(one(o, b) for o, b in bodies)))
    if transport_errors:  # the gateway closed a kept-alive connection as it was reused?
        print(f"creates sent again after a transport error: {transport_errors}", flush=True)
    return ids


async def reschedule(
    clients: list[httpx.AsyncClient],
    gateway: str,
    owners: list[int],
    ids: list[str],
    due: str,
    concurrency: int = 8,
) -> None:
    """Move each post (``ids[i]``, of client ``owners[i]``) to ``due`` (PATCH), in order."""
    gate = asyncio.Semaphore(concurrency)

    async def one(owner: int, post_id: str) -> None:
        async with gate:
            response = await clients[owner].patch(
                f"{gateway}/api/v1/posts/{post_id}", json={"scheduled_at": due}
            )
            if response.status_code != 200:
                raise RuntimeError(f"reschedule failed: {response.status_code} {response.text}")

    await asyncio.gather(*(one(o, i) for o, i in zip(owners, ids, strict=True)))


class StatusWatcher:
    """Reads ``posts.status.v1`` from the end (no group): the system does not serve it.

    The queue emits one ``post.status_changed`` per target change; a target is
    done when one says ``published`` or ``failed``; its time is the event's
    ``occurred_at`` (the queue's commit), checked against when it was read.
    """

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.done: dict[str, tuple[str, float, float]] = {}  # post → status, occurred, read
        self.platform: dict[str, str] = {}  # post → platform
        self.events = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(POSTS_STATUS) or set()
        tps = [TopicPartition(POSTS_STATUS, p) for p in partitions]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=500, max_records=1000)
            now = time.time()
            for records in batches.values():
                for record in records:
                    self.events += 1
                    event = json.loads(record.value)
                    if event.get("status") in ("published", "failed"):
                        self.done[event["post_id"]] = (
                            event["status"],
                            parse_ts(event["occurred_at"]),
                            now,
                        )
                        self.platform[event["post_id"]] = event.get("platform", "?")

    async def wait(self, ids: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ids <= self.done.keys() and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        await self.consumer.stop()


@dataclass
class PipelineResult:
    stats: Stats
    by_platform: dict[str, Stats]
    failures: list[str]
    unfinished: int
    create_s: float
    move_s: float
    slack_s: float
    observe_lag_p50_ms: float
    observe_lag_max_ms: float
    status_events: int
    cpu_create_ms: dict[str, float]
    cpu_move_ms: dict[str, float]
    cpu_drain_ms: dict[str, float]
    drain_s: float


async def run_pipeline(
    stack: EmbeddedStack,
    broker: TansuBroker,
    clients_made: list[tuple[httpx.Cookies, str, list[tuple[str, str]]]],
    posts: int,
    timeout: float,
    profile_dir: Path | None = None,
    profile_s: float = 20,
    due_factor: float = 2.0,
) -> PipelineResult:
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    http = [
        httpx.AsyncClient(cookies=cookies, timeout=60, limits=limits)
        for cookies, _, _ in clients_made
    ]
    targets = [
        (c, media, account)
        for slot in range(max(len(a) for _, _, a in clients_made))
        for c, (_, media, accounts) in enumerate(clients_made)
        for account in accounts[slot : slot + 1]
    ]
    pids = stack_pids(stack, broker)
    watcher = StatusWatcher(broker.bootstrap)
    await watcher.start()
    try:
        # Create ahead: every post due in an hour, so no create can come too late however
        # slowly creation goes (under load it slowed after a warm-up and T passed: 422 "in
        # the past"). Then every post is moved to one due time T by PATCH, T chosen from the
        # rescheduling rate measured on the first posts (far cheaper than creation).
        later = time.time() + 3600
        bodies = []
        for i in range(posts):
            owner, media, account = targets[i % len(targets)]
            bodies.append((owner, post_body(media, account, i, iso(later))))
        owners = [owner for owner, _ in bodies]
        cpu_before_create = cpu_ticks(pids)
        started = time.perf_counter()
        ids = await create_posts(http, stack.gateway, bodies, concurrency=8)
        create_s = time.perf_counter() - started
        cpu_after_create = cpu_ticks(pids)
        print(f"created {posts} posts in {create_s:.1f}s ({posts / create_s:.0f}/s)", flush=True)

        warm = min(64, posts)  # their own time again, a minute on: nothing becomes due
        started = time.perf_counter()
        await reschedule(http, stack.gateway, owners[:warm], ids[:warm], iso(later + 60))
        # the slower of creation and these reschedules: a busy machine slows both unevenly
        rate = min(warm / (time.perf_counter() - started), posts / create_s)
        due = time.time() + posts / rate * due_factor + 3.0
        cpu_before_move = cpu_ticks(pids)
        started = time.perf_counter()
        await reschedule(http, stack.gateway, owners, ids, iso(due))
        move_s = time.perf_counter() - started
        cpu_after_move = cpu_ticks(pids)
        slack_s = due - time.time()
        print(
            f"rescheduled {posts} posts in {move_s:.1f}s ({posts / move_s:.0f}/s); "
            f"due in {slack_s:.1f}s",
            flush=True,
        )
        await asyncio.sleep(max(0.0, due - time.time() - 0.5))
        spies = [
            subprocess.Popen(  # noqa: ASYNC220 - started once, before the measured window
                [
                    "py-spy",
                    "record",
                    "--gil",  # only the thread holding the GIL: Python's own CPU time
                    "-p",
                    str(pids[name]),
                    "-r",
                    "50",
                    "-f",
                    "speedscope",
                    "-d",
                    str(int(profile_s)),
                    "-o",
                    str(profile_dir / f"{name}.json"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for name in ("publisher-tiktok", "publisher-youtube", "queue", "auth", "notifier")
            if profile_dir is not None and name in pids
        ]
        cpu_before_drain = cpu_ticks(pids)
        drain_started = time.time()
        await watcher.wait(set(ids), timeout)
        await asyncio.sleep(2.0)  # the tail: last commits, relays, notifier
        cpu_after_drain = cpu_ticks(pids)
        drain_s = time.time() - drain_started
        for spy in spies:
            spy.wait()
    finally:
        await watcher.stop()
        for client in http:
            await client.aclose()

    finished = {pid: watcher.done[pid] for pid in ids if pid in watcher.done}
    published = {pid: v for pid, v in finished.items() if v[0] == "published"}
    latencies = [occurred - due for _, occurred, _ in published.values()]
    lags = [read - occurred for _, occurred, read in published.values()]
    span = max(occurred for _, occurred, _ in published.values()) - due if published else 0.0
    by_platform: dict[str, list[float]] = {}
    for pid, (_, occurred, _) in published.items():
        by_platform.setdefault(watcher.platform.get(pid, "?"), []).append(occurred - due)
    return PipelineResult(
        stats=summarize(latencies, span),
        by_platform={name: summarize(lat, max(lat)) for name, lat in sorted(by_platform.items())},
        failures=[pid for pid, v in finished.items() if v[0] != "published"],
        unfinished=len(ids) - len(finished),
        create_s=create_s,
        move_s=move_s,
        slack_s=slack_s,
        observe_lag_p50_ms=statistics.median(lags) * 1e3 if lags else float("nan"),
        observe_lag_max_ms=max(lags) * 1e3 if lags else float("nan"),
        status_events=watcher.events,
        cpu_create_ms=cpu_ms(cpu_before_create, cpu_after_create),
        cpu_move_ms=cpu_ms(cpu_before_move, cpu_after_move),
        cpu_drain_ms=cpu_ms(cpu_before_drain, cpu_after_drain),
        drain_s=drain_s,
    )


# --- raw Kafka -------------------------------------------------------------------------


async def run_raw_kafka(bootstrap: str, messages: int) -> Stats:
    """N messages produced at once (acks=all) and read by a group consumer."""
    topic = f"bench.raw.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PUBLISH_PARTITIONS, 1)])
    finally:
        await admin.close()
    assigned = asyncio.Event()

    class Joined(ConsumerRebalanceListener):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: Any) -> None:
            return None

        async def on_partitions_assigned(self, partitions: Any) -> None:
            if partitions:
                assigned.set()

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    consumer.subscribe([topic], listener=Joined())
    await consumer.start()
    await producer.start()
    try:
        await asyncio.wait_for(assigned.wait(), timeout=60)
        sent_at: dict[int, float] = {}
        received_at: dict[int, float] = {}

        async def consume() -> None:
            while len(received_at) < messages:
                batches = await consumer.getmany(timeout_ms=200)
                now = time.perf_counter()
                for records in batches.values():
                    for record in records:
                        received_at[int(record.key or b"-1")] = now
                if batches:
                    await consumer.commit()

        reader = asyncio.create_task(consume())
        first = time.perf_counter()

        # as fast as the producer takes them (send() waits only while its buffer is full)
        acks = []
        for i in range(messages):
            sent_at[i] = time.perf_counter()
            acks.append(await producer.send(topic, b"x" * 200, key=str(i).encode()))
        await asyncio.gather(*acks)
        await asyncio.wait_for(reader, timeout=120)
        latencies = [received_at[i] - sent_at[i] for i in range(messages)]
        return summarize(latencies, max(received_at.values()) - first)
    finally:
        await producer.stop()
        await consumer.stop()


# --- report ----------------------------------------------------------------------------

NOT_OURS = frozenset({"sandbox", "kafka"})
"""Processes not of the system itself (the platforms' fake, the broker); every other one,
idle publishers included, counts in "our services"."""


def report(
    result: PipelineResult,
    raw: Stats,
    posts: int,
    clients: int,
    accounts: int,
    platforms: list[str],
) -> None:
    def row(name: str, s: Stats, unit: str) -> str:
        return (
            f"{name:<28} {s.count:>6} {s.per_second:>10.1f} {unit:<7}"
            f"{s.p50_ms:>10.1f} {s.p99_ms:>10.1f} {s.max_ms:>10.1f}"
        )

    print()
    print(f"{'':<28} {'n':>6} {'rate':>10} {'':<7}{'p50 ms':>10} {'p99 ms':>10} {'max ms':>10}")
    print(row("pipeline due→published", result.stats, "posts/s"))
    if len(result.by_platform) > 1:
        for name, stats in result.by_platform.items():
            print(row(f"  {name}", stats, "posts/s"))
    print(row("raw Kafka produce→consume", raw, "msgs/s"))
    print()
    print(
        f"posts: {posts} ({' and '.join(platforms)}), one target each, over "
        f"{clients * accounts * len(platforms)} accounts of {clients} clients; "
        f"failures: {len(result.failures)}, "
        f"unfinished: {result.unfinished}"
    )
    print(
        f"created in {result.create_s:.1f}s, rescheduled to T in {result.move_s:.1f}s; "
        f"T was {result.slack_s:.1f}s after the last reschedule"
    )
    if result.slack_s < 0:
        print("WARNING: T passed before the last reschedule; latencies include its time")
    print(
        f"status events read (posts.status.v1): {result.status_events} "
        f"({result.status_events / max(posts, 1):.2f} per post); read lag after "
        f"the queue's occurred_at p50 {result.observe_lag_p50_ms:.0f} ms, "
        f"max {result.observe_lag_max_ms:.0f} ms"
    )
    done = max(result.stats.count, 1)
    print()
    print(f"CPU ms per published post (drain window {result.drain_s:.1f}s, T−0.5s → last + 2s):")
    print(f"{'process':<20} {'drain':>9} {'create':>9} {'move':>9}")
    ours_drain = ours_create = ours_move = 0.0
    for name in sorted(result.cpu_drain_ms, key=lambda n: (n in NOT_OURS, n)):
        drain = result.cpu_drain_ms[name] / done
        create = result.cpu_create_ms.get(name, 0.0) / max(posts, 1)
        move = result.cpu_move_ms.get(name, 0.0) / max(posts, 1)
        print(f"{name:<20} {drain:>9.2f} {create:>9.2f} {move:>9.2f}")
        if name not in NOT_OURS:
            ours_drain += drain
            ours_create += create
            ours_move += move
    print(f"{'= our services':<20} {ours_drain:>9.2f} {ours_create:>9.2f} {ours_move:>9.2f}")
    print("(sandbox and kafka are the platforms' fake and the broker; gateway = the")
    print(" embedded supervisor process; create = POST /api/v1/posts, move = PATCH to T,")
    print(" each per post)")
    if raw.per_second and result.stats.per_second:
        print(
            f"ratio throughput raw/pipeline: {raw.per_second / result.stats.per_second:.1f}x; "
            f"p50 pipeline/raw: {result.stats.p50_ms / raw.p50_ms:.1f}x; "
            f"p99 pipeline/raw: {result.stats.p99_ms / raw.p99_ms:.1f}x"
        )
    for failure in result.failures[:5]:
        print(f"  failed {failure}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000, help="posts to publish (default 2000)")
    parser.add_argument("--clients", type=int, default=20, help="clients (default 20)")
    parser.add_argument(
        "--accounts", type=int, default=5, help="accounts per client and platform (default 5)"
    )
    parser.add_argument(
        "--platforms",
        default="tiktok",
        help=f"comma-separated: {', '.join(OPTIONS)} (default tiktok); posts go round-robin",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a CACHALOT_* setting for every service (repeatable)",
    )
    parser.add_argument("--raw", type=int, default=20000, help="raw Kafka messages (20000)")
    parser.add_argument("--quick", action="store_true", help="200 posts, for a fast check")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait after T")
    parser.add_argument("--keep", action="store_true", help="keep the var directory and logs")
    parser.add_argument(
        "--profile",
        type=Path,
        help="py-spy (on PATH) records each service for the first N s of the drain into DIR",
    )
    parser.add_argument("--profile-seconds", type=float, default=20)
    parser.add_argument(
        "--due-factor",
        type=float,
        default=2.0,
        help="T = now + posts / rate × this + 3 s, the rate the slower of creation and the "
        "first 64 reschedules (raise it on a loaded machine, where T may pass)",
    )
    args = parser.parse_args()
    posts = 200 if args.quick else args.posts
    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    if unknown := [p for p in platforms if p not in OPTIONS]:
        parser.error(f"--platforms: {', '.join(unknown)} not driven here (see OPTIONS)")
    if args.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy on PATH: `uv tool install py-spy` (~/.local/bin)")
    env = dict(STACK_ENV)
    env.update(item.split("=", 1) for item in args.env)

    var_dir = Path(tempfile.mkdtemp(prefix="cachalot-bench-pipeline-"))
    broker = TansuBroker(log_path=var_dir / "tansu.log").start()
    stack = EmbeddedStack(var_dir / "stack", env=env, kafka_bootstrap=broker.bootstrap)
    ok = False
    try:
        stack.start(timeout=300)  # a loaded machine starts the stack slowly
        print(f"stack up (broker {broker.bootstrap}, logs {var_dir})", flush=True)
        relax_sandbox(stack.sandbox)
        made = make_clients(stack, args.clients, args.accounts, platforms)
        print(
            f"{args.clients} clients, {args.clients * args.accounts * len(platforms)} accounts "
            f"({', '.join(platforms)})",
            flush=True,
        )
        print(f"load average before: {os.getloadavg()}", flush=True)
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
        raw = asyncio.run(run_raw_kafka(broker.bootstrap, args.raw))
        print(f"raw Kafka: {raw.per_second:.0f} msg/s", flush=True)
        result = asyncio.run(
            run_pipeline(
                stack,
                broker,
                made,
                posts,
                args.timeout,
                args.profile,
                args.profile_seconds,
                args.due_factor,
            )
        )
        print(f"load average after: {os.getloadavg()}", flush=True)
        report(result, raw, posts, args.clients, args.accounts, platforms)
        ok = not result.failures and not result.unfinished
    finally:
        stack.stop()
        broker.stop()
        if ok and not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print(f"logs kept in {var_dir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
