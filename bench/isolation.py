"""Isolation between clients: B's post beside A's heavy work, and B alone, in one run.

Starts a Tansu broker and the whole embedded system on it (as ``make dev``
runs it, on free ports), connects client A and client B (one TikTok account
each, through the sandbox's consent as ``sandbox-extra-*`` users), and
measures B's due→published delay (the queue's ``published`` status event on
``posts.status.v1`` minus the post's ``scheduled_at``) in two scenarios, each
first with A absent, then beside A:

(a) **large upload**: the sandbox throttles TikTok uploads so that A's 3 MiB
    video takes ≥ 30 s; while it uploads, B's small post, due now, is
    published (three times, a few seconds apart);
(b) **rate limits**: A's 50 posts and B's one are due at the same moment,
    with TikTok's per-user limits on (the sandbox's and the publisher's
    defaults: 6 inits a minute), so A's posts wait for minutes.

TikTok only. The same isolation on YouTube (another account's small post published
within 2 s during a ≥ 30 s upload) is held by publisher-youtube's test
``tests/integration/test_concurrency.py`` on the same runtime; this bench does
not time it.

Run: ``uv run python bench/isolation.py``. Exit status 1 if B is more than 2 s
later beside A than alone (the issue's target) or a post failed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from cachalot_testing.broker import TansuBroker
from cachalot_testing.clients import connect_tiktok, create_post, iso_at, upload_media
from cachalot_testing.media import video_file
from cachalot_testing.stack import EmbeddedStack

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import StatusWatcher

ROOT = Path(__file__).resolve().parents[1]
VIDEO = video_file()
BIG = 3 * 1024 * 1024
THROTTLE_BPS = 100_000  # 3 MiB in ~31 s
TARGET_EXTRA_S = 2.0
STACK_ENV = {"CACHALOT_LOG_LEVEL": "WARNING", "CACHALOT_AUTH_RATE_LIMIT": "100000/minute"}


def padded(size: int) -> bytes:
    """The sample grown to ``size`` bytes by a trailing ISO-BMFF ``free`` box."""
    data = VIDEO.read_bytes()
    pad = size - len(data) - 8
    return data + struct.pack(">I", 8 + pad) + b"free" + os.urandom(pad)


def sandbox_config(stack: EmbeddedStack, **config: Any) -> None:
    httpx.post(f"{stack.sandbox}/sandbox/tiktok/config", json=config, timeout=10).raise_for_status()


class Client:
    def __init__(self, stack: EmbeddedStack, name: str) -> None:
        self.stack = stack
        self.http = httpx.Client(timeout=60)
        self.account = connect_tiktok(self.http, stack.gateway, f"sandbox-extra-{name}")
        self.small = str(upload_media(self.http, stack.gateway, VIDEO.read_bytes())["id"])

    def post(self, media: str, due: float, caption: str) -> str:
        body = {
            "media_id": media,
            "scheduled_at": iso_at(due),
            "targets": [
                {
                    "account_id": self.account,
                    "tiktok": {"privacy_level": "SELF_ONLY", "caption": caption},
                }
            ],
        }
        return create_post(self.http, self.stack.gateway, body)


async def delay_of(watcher: StatusWatcher, post: str, due: float, timeout: float = 120) -> float:
    await watcher.wait({post}, timeout)
    status, occurred, _ = watcher.done[post]
    if status != "published":
        raise RuntimeError(f"post {post} ended {status}")
    return occurred - due


async def uploading(stack: EmbeddedStack, open_id: str, timeout: float = 60) -> None:
    """Until the sandbox shows an upload of ``open_id`` begun and not complete."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=10) as http:
        while time.monotonic() < deadline:
            posts = (await http.get(f"{stack.sandbox}/sandbox/tiktok/posts")).json()
            if any(
                p["open_id"] == open_id
                and p["upload_started_at"] is not None
                and p["upload_completed_at"] is None
                for p in posts["publishes"]
            ):
                return
            await asyncio.sleep(0.1)
    raise RuntimeError("A's upload never started")


async def scenario_upload(
    stack: EmbeddedStack, watcher: StatusWatcher, a: Client, b: Client, run: str
) -> tuple[list[float], list[float], float]:
    """(a): B alone three times, then three times while A's large upload is in flight."""
    sandbox_config(
        stack, rate_limits_enabled=False, processing_delay_s=0, upload_throttle_bps=THROTTLE_BPS
    )
    alone = []
    for n in range(3):
        due = time.time() + 1.5
        alone.append(await delay_of(watcher, b.post(b.small, due, f"alone {n}"), due))
    big = str(upload_media(a.http, stack.gateway, padded(BIG))["id"])
    a_due = time.time() + 1.0
    a_post = a.post(big, a_due, "big")
    await uploading(stack, f"sandbox-extra-{run}-a")
    beside = []
    for n in range(3):
        due = time.time() + 1.5
        beside.append(await delay_of(watcher, b.post(b.small, due, f"beside {n}"), due))
        await asyncio.sleep(2)
    a_took = await delay_of(watcher, a_post, a_due, timeout=180)
    sandbox_config(stack, upload_throttle_bps=0)
    return alone, beside, a_took


async def scenario_rate_limits(
    stack: EmbeddedStack, watcher: StatusWatcher, a: Client, b: Client
) -> tuple[float, float]:
    """(b): B alone, then B due at the same moment as A's 50 posts, limits on."""
    sandbox_config(stack, rate_limits_enabled=True, processing_delay_s=0)
    due = time.time() + 1.5
    alone = await delay_of(watcher, b.post(b.small, due, "limits alone"), due)
    due = time.time() + 8.0
    for n in range(50):
        a.post(a.small, due, f"flood {n}")
    b_post = b.post(b.small, due, "limits beside")
    if time.time() > due:
        raise RuntimeError("creating A's 50 posts took longer than the slack")
    beside = await delay_of(watcher, b_post, due)
    return alone, beside


async def run(stack: EmbeddedStack, broker: TansuBroker) -> bool:
    run_id = os.urandom(3).hex()
    watcher = StatusWatcher(broker.bootstrap)
    await watcher.start()
    try:
        a = Client(stack, f"{run_id}-a")
        b = Client(stack, f"{run_id}-b")
        print(f"load average before: {os.getloadavg()}", flush=True)
        alone, beside, a_took = await scenario_upload(stack, watcher, a, b, run_id)
        a2 = Client(stack, f"{run_id}-a2")
        b2 = Client(stack, f"{run_id}-b2")
        limits_alone, limits_beside = await scenario_rate_limits(stack, watcher, a2, b2)
        print(f"load average after: {os.getloadavg()}", flush=True)
    finally:
        await watcher.stop()

    def fmt(values: list[float]) -> str:
        return ", ".join(f"{v:.2f}" for v in values)

    extra_a = max(beside) - max(alone)
    extra_b = limits_beside - limits_alone
    print()
    print("B's due→published delay, seconds (TikTok)")
    print(f"{'scenario':<44} {'B alone':>18} {'B beside A':>18} {'extra':>7}")
    print(
        f"{'(a) A uploads 3 MiB throttled (A took ' + f'{a_took:.0f} s)':<44} "
        f"{fmt(alone):>18} {fmt(beside):>18} {extra_a:>7.2f}"
    )
    print(
        f"{'(b) A has 50 posts due under rate limits':<44} "
        f"{limits_alone:>18.2f} {limits_beside:>18.2f} {extra_b:>7.2f}"
    )
    ok = a_took >= 30 and extra_a <= TARGET_EXTRA_S and extra_b <= TARGET_EXTRA_S
    print(
        f"target: ≤ {TARGET_EXTRA_S:.0f} s extra (A's upload ≥ 30 s): {'met' if ok else 'NOT met'}"
    )
    return ok


def main() -> int:
    var_dir = Path(tempfile.mkdtemp(prefix="cachalot-bench-isolation-"))
    broker = TansuBroker(log_path=var_dir / "tansu.log").start()
    stack = EmbeddedStack(var_dir / "stack", env=STACK_ENV, kafka_bootstrap=broker.bootstrap)
    ok = False
    try:
        stack.start(timeout=120)
        print(f"stack up (broker {broker.bootstrap}, logs {var_dir})", flush=True)
        ok = asyncio.run(run(stack, broker))
    finally:
        stack.stop()
        broker.stop()
        if ok:
            shutil.rmtree(var_dir, ignore_errors=True)
        else:
            print(f"logs kept in {var_dir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
