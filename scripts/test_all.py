"""Run every package's tests, each in its own pytest process, and sum them up.

Each service keeps its tests beside it in a ``tests/`` folder; run in one
process, those folders' conftest modules would clash by name. One pytest per
package also mirrors how a service is built and shipped alone. The last line
is the total, ``N passed, N failed, N skipped``; the exit code is non-zero if
any package failed (pytest's "no tests collected" counts as a failure too:
a package whose tests vanished is a bug).

Output is passed through as it comes, not line by line, so a log cut short
shows the last test that ran. A package that runs longer than
``PACKAGE_TIMEOUT_S`` (``CACHALOT_TEST_PACKAGE_TIMEOUT_S``) is stopped and
counted as failed, so one hang cannot use up a whole CI run. Each package's
log ends with its slowest steps (``--durations``, :data:`DURATIONS`; a
``--durations=N`` given here wins): where a slow run's time went, without a
second run to find it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
PACKAGE_TIMEOUT_S = float(os.environ.get("CACHALOT_TEST_PACKAGE_TIMEOUT_S", "1200"))
# the root package (browser, end-to-end, deploy) is the largest: ~1,100-1,300 s on this machine
ROOT_TESTS_TIMEOUT_S = float(os.environ.get("CACHALOT_TEST_ROOT_TIMEOUT_S", "1500"))
DURATIONS = "--durations=25"
"""Every package's 25 slowest setups, calls and teardowns, listed before its summary line."""


def targets() -> list[str]:
    found = sorted(str(p.parent.relative_to(ROOT)) for p in ROOT.glob("libs/*/tests"))
    found += sorted(str(p.parent.relative_to(ROOT)) for p in ROOT.glob("services/*/tests"))
    found += [t for t in ("embedded", "deploy", "tests") if any((ROOT / t).rglob("test_*.py"))]
    return found


def timeout_of(target: str) -> float:
    """Seconds ``target``'s pytest may run: the root package's own bound, else the package one."""
    return ROOT_TESTS_TIMEOUT_S if target == "tests" else PACKAGE_TIMEOUT_S


def stop_overdue(process: subprocess.Popen[bytes], target: str) -> None:
    """Stop a package's pytest that ran past :func:`timeout_of` (SIGTERM, then SIGKILL)."""
    print(f"\n=== {target}: still running after {timeout_of(target):.0f}s, stopped", flush=True)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def main(argv: list[str]) -> int:
    wanted = [a for a in argv if not a.startswith("-")] or targets()
    options = [a for a in argv if a.startswith("-")]
    totals = {"passed": 0, "failed": 0, "skipped": 0}
    failures: list[str] = []
    started = time.monotonic()
    for target in wanted:
        print(f"\n=== {target}", flush=True)
        began = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", target, DURATIONS, *options],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        timer = threading.Timer(timeout_of(target), stop_overdue, (process, target))
        timer.start()
        assert process.stdout is not None
        seen = bytearray()
        while chunk := os.read(process.stdout.fileno(), 65536):
            sys.stdout.buffer.write(chunk)
            sys.stdout.flush()
            seen += chunk
            del seen[:-4096]
        code = process.wait()
        timer.cancel()
        lines = [line for line in seen.decode(errors="replace").splitlines() if line.strip()]
        last = lines[-1] if lines else ""
        for number, kind in COUNT.findall(last):
            key = "failed" if kind.startswith("error") else kind
            if key in totals:
                totals[key] += int(number)
        if code != 0:
            failures.append(f"{target} (exit {code})")
        print(f"=== {target}: {time.monotonic() - began:.0f}s", flush=True)
    elapsed = time.monotonic() - started
    print(
        f"\nall packages in {elapsed:.0f}s"
        + (f"; failed: {', '.join(failures)}" if failures else "")
    )
    print(f"{totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
