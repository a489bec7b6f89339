"""``bench/scheduler.py`` times the claim the queue really makes: its seeded targets build
valid commands (they lacked TikTok's required ``privacy_level`` after the options grew it,
so every timed claim failed its ten targets as ``invalid_target`` and timed that error path,
with pages of "cannot be dispatched" lines), and it stops naming the fault if they ever
do not again."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_scheduler_bench_dispatches_every_target_it_claims_and_says_nothing_is_wrong() -> None:
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "scheduler.py"), "--sqlite-only",
         "--backlogs", "0", "--runs", "5"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )  # fmt: skip
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-2000:]
    assert "cannot be dispatched" not in output
    assert "claim of 10" in output
    assert "SQLite: " in output
    assert time.monotonic() - started < 120
