"""Run every package's tests, each in its own pytest process, and sum them up.

Each service keeps its tests beside it in a ``tests/`` folder; run in one
process, those folders' conftest modules would clash by name. One pytest per
package also mirrors how a service is built and shipped alone. The last line
is the total, ``N passed, N failed, N skipped``; the exit code is non-zero if
any package failed (pytest's "no tests collected" counts as a failure too:
a package whose tests vanished is a bug).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")


def targets() -> list[str]:
    found = sorted(str(p.parent.relative_to(ROOT)) for p in ROOT.glob("libs/*/tests"))
    found += sorted(str(p.parent.relative_to(ROOT)) for p in ROOT.glob("services/*/tests"))
    found += [t for t in ("embedded", "deploy", "tests") if any((ROOT / t).rglob("test_*.py"))]
    return found


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
            [sys.executable, "-m", "pytest", target, *options],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        last = ""
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            if line.strip():
                last = line
        code = process.wait()
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
