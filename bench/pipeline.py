"""Publishing pipeline throughput and due→published latency, beside raw Kafka.

Starts a Tansu broker and the whole embedded system on it (as ``make dev``
runs it, on free ports), makes the sandbox platforms zero-delay and
unthrottled, signs one client in with TikTok and YouTube through the real
consent redirects, uploads ``tests/fixtures/sample.mp4`` once and creates N
one-target posts through the gateway (alternating TikTok and YouTube, so
N/2 each), all scheduled for one due time T chosen a little after the last
create (the creation rate is measured on warm-up posts first, which are then
cancelled). It then polls ``GET /api/v1/posts`` until every target is
published or failed.

* latency of a target = its ``updated_at`` in the queue when it became
  ``published`` − T (checked against when this script first saw it);
* posts/s = N / (last published − T).

Then, on the same broker in the same run (with the stack still up and idle),
the raw round trip: N messages produced at once with aiokafka (acks=all) to a
topic with as many partitions as the publish topics, consumed by a group
consumer; latency = received − produced, msgs/s = N / (last received − first
send). The ratios say what the pipeline costs over bare Kafka.

Run: ``uv run python bench/pipeline.py [--posts 2000] [--quick]``.
Exit status 1 if any post failed or never finished.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cachalot_testing.broker import TansuBroker
from cachalot_testing.stack import EmbeddedStack

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT / "tests" / "fixtures" / "sample.mp4"
PLATFORMS = ("tiktok", "youtube")
PUBLISH_PARTITIONS = 4  # as embedded mode creates posts.publish.<platform>
UNLIMITED = 1_000_000

# What the publishers would otherwise hold back on (client-side TikTok limits).
STACK_ENV = {
    "CACHALOT_TIKTOK_CREATOR_INFO_PER_MINUTE": str(UNLIMITED),
    "CACHALOT_TIKTOK_INIT_PER_MINUTE": str(UNLIMITED),
    "CACHALOT_TIKTOK_STATUS_PER_MINUTE": str(UNLIMITED),
    "CACHALOT_LOG_LEVEL": "WARNING",
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
    """Zero processing delay, no rate limits, quota and upload caps out of reach."""
    calls = [
        (
            "/sandbox/tiktok/config",
            {"rate_limits_enabled": False, "processing_delay_s": 0, "upload_throttle_bps": 0},
        ),
        (
            "/sandbox/youtube/quota",
            {"daily_units": 10**12, "used_units": 0, "channel_daily_uploads": UNLIMITED},
        ),
    ]
    for oauth in ("tiktok", "google"):
        calls.append((f"/sandbox/oauth/{oauth}/config", {"auto_consent": 1}))
    for path, body in calls:
        httpx.post(f"{sandbox}{path}", json=body, timeout=10).raise_for_status()


def sign_in(client: httpx.Client, stack: EmbeddedStack) -> dict[str, str]:
    """TikTok (then the consent the queue requires), then YouTube; their account ids."""
    for platform in PLATFORMS:
        response = client.get(f"{stack.gateway}/api/v1/auth/{platform}/login", params={"next": "/"})
        if f"connected={platform}" not in str(response.url):
            raise RuntimeError(f"{platform} sign-in did not complete: {response.url}")
        if platform == "tiktok":
            client.post(
                f"{stack.gateway}/api/v1/me/consent",
                json={"adult": True, "email": f"bench-{uuid.uuid4().hex[:6]}@example.com"},
            ).raise_for_status()
    accounts = client.get(f"{stack.gateway}/api/v1/accounts")
    accounts.raise_for_status()
    return {a["platform"]: a["id"] for a in accounts.json()}


def post_body(media_id: str, account: str, platform: str, n: int, due: str) -> dict[str, Any]:
    target: dict[str, Any] = {"account_id": account}
    if platform == "tiktok":
        target["tiktok"] = {"caption": f"bench {n}"}
    else:
        target["youtube"] = {"title": f"Bench {n}"}
    return {"media_id": media_id, "scheduled_at": due, "targets": [target]}


async def create_posts(
    client: httpx.AsyncClient,
    gateway: str,
    bodies: list[dict[str, Any]],
    concurrency: int,
) -> list[str]:
    """Create every post (Idempotency-Key each); retry while the queue learns the accounts."""
    gate = asyncio.Semaphore(concurrency)

    async def one(body: dict[str, Any]) -> str:
        key = str(uuid.uuid4())
        deadline = time.monotonic() + 30
        async with gate:
            while True:
                response = await client.post(
                    f"{gateway}/api/v1/posts", json=body, headers={"Idempotency-Key": key}
                )
                if response.status_code in (200, 201):
                    return str(response.json()["id"])
                if time.monotonic() > deadline:
                    raise RuntimeError(f"create failed: {response.status_code} {response.text}")
                await asyncio.sleep(0.3)

    return list(await asyncio.gather(*(one(b) for b in bodies)))


async def watch(
    client: httpx.AsyncClient, gateway: str, ids: set[str], timeout: float
) -> tuple[dict[str, dict[str, Any]], dict[str, float], float]:
    """Page through GET /api/v1/posts until every post's target is published/failed.

    Returns the last view of each target (by post id) and when this script
    first saw it terminal (wall clock), and the longest sweep over all pages.
    """
    final: dict[str, dict[str, Any]] = {}
    sweeps: list[float] = []
    seen_at: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(final) < len(ids) and time.monotonic() < deadline:
        cursor: str | None = None
        sweep_started = time.monotonic()
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            response = await client.get(f"{gateway}/api/v1/posts", params=params)
            response.raise_for_status()
            page = response.json()
            now = time.time()
            for post in page["items"]:
                if post["id"] not in ids or post["id"] in final:
                    continue
                target = post["targets"][0]
                if target["status"] in ("published", "failed"):
                    final[post["id"]] = target
                    seen_at[post["id"]] = now
            cursor = page.get("next_cursor")
            if not cursor:
                break
        sweeps.append(time.monotonic() - sweep_started)
        if len(final) < len(ids):
            await asyncio.sleep(0.5)
    return final, seen_at, max(sweeps, default=0.0)


@dataclass
class PipelineResult:
    stats: Stats
    by_platform: dict[str, Stats]
    failures: list[dict[str, Any]]
    unfinished: int
    create_s: float
    slack_s: float
    observe_lag_p50_ms: float
    observe_lag_max_ms: float
    observe_negative: int
    sweep_max_s: float


def prepare(stack: EmbeddedStack) -> tuple[dict[str, str], str, httpx.Cookies]:
    """Relax the sandbox, sign in, upload the video: accounts, media id, session cookies."""
    relax_sandbox(stack.sandbox)
    with httpx.Client(follow_redirects=True, timeout=30) as client:
        accounts = sign_in(client, stack)
        media = client.post(
            f"{stack.gateway}/api/v1/media",
            content=VIDEO.read_bytes(),
            headers={"content-type": "video/mp4"},
        )
        media.raise_for_status()
        return accounts, str(media.json()["id"]), client.cookies


async def run_pipeline(
    stack: EmbeddedStack,
    prepared: tuple[dict[str, str], str, httpx.Cookies],
    posts: int,
    timeout: float,
) -> PipelineResult:
    accounts, media_id, cookies = prepared
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(cookies=cookies, timeout=60, limits=limits) as client:
        # Warm up and measure the creation rate on posts due in an hour, then cancel them.
        later = iso(time.time() + 3600)
        warm = [
            post_body(media_id, accounts[PLATFORMS[i % 2]], PLATFORMS[i % 2], i, later)
            for i in range(48)
        ]
        # The first creates also wait for the queue to learn the accounts (accounts.v1).
        warm_ids = await create_posts(client, stack.gateway, warm[:8], concurrency=8)
        started = time.perf_counter()
        warm_ids += await create_posts(client, stack.gateway, warm[8:], concurrency=8)
        warm_rate = len(warm[8:]) / (time.perf_counter() - started)
        for post_id in warm_ids:
            (await client.post(f"{stack.gateway}/api/v1/posts/{post_id}/cancel")).raise_for_status()

        due = time.time() + posts / warm_rate * 1.25 + 3.0
        bodies = [
            post_body(media_id, accounts[PLATFORMS[i % 2]], PLATFORMS[i % 2], i, iso(due))
            for i in range(posts)
        ]
        started = time.perf_counter()
        ids = await create_posts(client, stack.gateway, bodies, concurrency=8)
        create_s = time.perf_counter() - started
        slack_s = due - time.time()
        print(
            f"created {posts} posts in {create_s:.1f}s ({posts / create_s:.0f}/s); "
            f"due in {slack_s:.1f}s",
            flush=True,
        )
        final, seen_at, sweep_max = await watch(
            client, stack.gateway, set(ids), timeout + max(slack_s, 0)
        )

    platform_of = {pid: PLATFORMS[i % 2] for i, pid in enumerate(ids)}
    published = {pid: t for pid, t in final.items() if t["status"] == "published"}
    failures = [{"post": pid, **t} for pid, t in final.items() if t["status"] != "published"]
    done_at = {pid: parse_ts(t["updated_at"]) for pid, t in published.items()}
    latencies = {pid: at - due for pid, at in done_at.items()}
    lags = [seen_at[pid] - at for pid, at in done_at.items()]
    span = max(done_at.values()) - due if done_at else 0.0
    by_platform = {}
    for platform in PLATFORMS:
        mine = [latencies[p] for p in latencies if platform_of[p] == platform]
        ends = [done_at[p] for p in done_at if platform_of[p] == platform]
        by_platform[platform] = summarize(mine, max(ends) - due if ends else 0.0)
    return PipelineResult(
        stats=summarize(list(latencies.values()), span),
        by_platform=by_platform,
        failures=failures,
        unfinished=len(ids) - len(final),
        create_s=create_s,
        slack_s=slack_s,
        observe_lag_p50_ms=statistics.median(lags) * 1e3 if lags else float("nan"),
        observe_lag_max_ms=max(lags) * 1e3 if lags else float("nan"),
        observe_negative=sum(1 for lag in lags if lag < 0),
        sweep_max_s=sweep_max,
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

        async def produce(i: int) -> None:
            sent_at[i] = time.perf_counter()
            await producer.send_and_wait(topic, b"x" * 200, key=str(i).encode())

        await asyncio.gather(*(produce(i) for i in range(messages)))
        await asyncio.wait_for(reader, timeout=120)
        latencies = [received_at[i] - sent_at[i] for i in range(messages)]
        return summarize(latencies, max(received_at.values()) - first)
    finally:
        await producer.stop()
        await consumer.stop()


# --- report ----------------------------------------------------------------------------


def report(result: PipelineResult, raw: Stats, posts: int) -> None:
    def row(name: str, s: Stats, unit: str) -> str:
        return (
            f"{name:<28} {s.count:>6} {s.per_second:>10.1f} {unit:<7}"
            f"{s.p50_ms:>10.1f} {s.p99_ms:>10.1f} {s.max_ms:>10.1f}"
        )

    print()
    print(f"{'':<28} {'n':>6} {'rate':>10} {'':<7}{'p50 ms':>10} {'p99 ms':>10} {'max ms':>10}")
    print(row("pipeline due→published", result.stats, "posts/s"))
    for platform, stats in result.by_platform.items():
        print(row(f"  {platform}", stats, "posts/s"))
    print(row("raw Kafka produce→consume", raw, "msgs/s"))
    print()
    print(f"posts: {posts}, one target each ({posts - posts // 2} TikTok, {posts // 2} YouTube)")
    print(f"failures: {len(result.failures)}, unfinished: {result.unfinished}")
    print(f"created in {result.create_s:.1f}s; T was {result.slack_s:.1f}s after the last create")
    if result.slack_s < 0:
        print("WARNING: T passed before the last create; latencies include creation time")
    print(
        "queue updated_at vs first seen by this poller: "
        f"lag p50 {result.observe_lag_p50_ms:.0f} ms, max {result.observe_lag_max_ms:.0f} ms,"
        f" {result.observe_negative} seen before their updated_at"
        f" (longest sweep of GET /api/v1/posts: {result.sweep_max_s:.1f}s)"
    )
    if raw.per_second and result.stats.per_second:
        print(
            f"ratio throughput raw/pipeline: {raw.per_second / result.stats.per_second:.1f}x; "
            f"p50 pipeline/raw: {result.stats.p50_ms / raw.p50_ms:.1f}x; "
            f"p99 pipeline/raw: {result.stats.p99_ms / raw.p99_ms:.1f}x"
        )
    for failure in result.failures[:5]:
        print(
            f"  failed {failure['post']}: "
            f"{failure.get('last_error_code')} {failure.get('last_error')}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000, help="posts to publish (default 2000)")
    parser.add_argument("--quick", action="store_true", help="200 posts, for a fast check")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait after T")
    parser.add_argument("--keep", action="store_true", help="keep the var directory and logs")
    args = parser.parse_args()
    posts = 200 if args.quick else args.posts

    var_dir = Path(tempfile.mkdtemp(prefix="cachalot-bench-pipeline-"))
    broker = TansuBroker(log_path=var_dir / "tansu.log").start()
    stack = EmbeddedStack(var_dir / "stack", env=STACK_ENV, kafka_bootstrap=broker.bootstrap)
    ok = False
    try:
        stack.start(timeout=120)
        print(f"stack up (broker {broker.bootstrap}, logs {var_dir})", flush=True)
        result = asyncio.run(run_pipeline(stack, prepare(stack), posts, args.timeout))
        raw = asyncio.run(run_raw_kafka(broker.bootstrap, posts))
        report(result, raw, posts)
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
