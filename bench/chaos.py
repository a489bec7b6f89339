"""The fault suite that counts (issue 11 item 7): faults on the whole system, counted.

Starts the whole embedded system (``make dev`` on free ports, its own Tansu under
the stack's supervisor) on a private PostgreSQL (``--database sqlite`` for the
embedded default), signs in ``--clients`` clients through the sandbox's OAuth
pages (TikTok and VK each; the first also YouTube), queues posts with a distinct
video each due over a few minutes, and then, while a writer keeps queueing posts
and contact-form messages, applies every fault in turn: ``kill -9`` of each
service, the broker (Tansu restarts empty), PostgreSQL, and the sandbox's 429s,
5xx and dropped connections on each platform. See
``libs/testing/src/cachalot_testing/chaos.py`` for how each figure is counted
(from the sandbox's records: bytes' SHA-256 per platform, the operator chat).

Prints, per phase, Jepsen-style: targets accepted, published exactly once,
published twice, lost, stuck (not final after the window), contact messages
accepted vs delivered, and each fault's recovery time (until a probe queued
right after it is on every platform and its contact message reached the
operator). Targets: 0 lost, 0 twice, 0 stuck, every message, recovery < 60 s.

Run: ``uv run --frozen python bench/chaos.py`` (``--database sqlite``,
``--faults kill:queue,broker``, ``--clients 4``, ``--posts 6``, ``--env
CACHALOT_RECONCILE_AFTER_S=8`` to try a setting, ``--start-timeout 900`` on a loaded
machine). Exit status 1 when a target is not met. When the run fails (the stack not up
within ``--start-timeout``: the error names the services not up), its directory with
every log is kept and its path printed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cachalot_testing.chaos import (
    PLATFORM_FAULTS,
    RESTARTS,
    START_TIMEOUT_S,
    ChaosRun,
    Report,
    phases,
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/chaos.py", description=__doc__)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--posts", type=int, default=6, help="posts per client queued up front")
    parser.add_argument(
        "--spread", type=float, default=180.0, help="seconds the posts are due over"
    )
    parser.add_argument("--window", type=float, default=120.0, help="recovery window, seconds")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="CACHALOT_X=VALUE",
        help="a setting for every service (repeat; e.g. CACHALOT_RECONCILE_AFTER_S=8)",
    )
    parser.add_argument(
        "--faults",
        default="",
        help="comma-separated faults (default: every service, the platforms, the broker, "
        "then PostgreSQL)",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=START_TIMEOUT_S,
        metavar="SECONDS",
        help=f"how long the stack may take to come up (default {START_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the run's logs and databases even when every target is met (they are "
        "kept anyway when one is missed or a recovery took over half its limit)",
    )
    return parser.parse_args(argv)


@dataclasses.dataclass
class _RunDir:
    """The run's directory (logs, databases) and whether it outlives the run."""

    path: Path
    kept: bool = False

    def keep(self, why: str) -> None:
        """Keep the directory after the run (its path printed, with ``why``)."""
        if not self.kept:
            print(f"{why}; its logs are kept in {self.path}", file=sys.stderr)
        self.kept = True


@contextlib.contextmanager
def _run_dir() -> Iterator[_RunDir]:
    """A new directory for the run: removed when the run ends well, kept (its path printed)
    when it fails or misses a target, so the logs that say why are still there."""
    var = _RunDir(Path(tempfile.mkdtemp(prefix="cachalot-chaos-")))
    try:
        yield var
    except BaseException:
        var.keep("the run failed")
        raise
    if not var.kept:
        shutil.rmtree(var.path, ignore_errors=True)


def keep_reason(reports: list[Report], *, asked: bool) -> str | None:
    """Why a run that met every target keeps its logs, or None: ``--keep``, or a recovery
    within its limit but over half of it (the logs say why it was slow: fresh11k)."""
    if asked:
        return "--keep"
    slow = [
        r
        for report in reports
        for r in report.recoveries
        if r.seconds is not None and r.seconds > report.recovery_limit_s / 2
    ]
    if not slow:
        return None
    if len(slow) == 1:
        return "a recovery took over half its limit"
    return f"{len(slow)} recoveries took over half their limit"


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.monotonic()
    with (
        _run_dir() as var,
        ChaosRun(
            var.path,
            database=args.database,
            clients=args.clients,
            env=dict(item.split("=", 1) for item in args.env),
            start_timeout=args.start_timeout,
        ) as run,
    ):
        # faults the system should survive first, then those that may break it for good;
        # faults given by hand run in the order given, each repeat again
        faults = [f for f in args.faults.split(",") if f] or [
            *run.service_faults(),
            *PLATFORM_FAULTS,
            *(["postgres"] if args.database == "postgres" else []),
            "broker",
        ]
        reports = []
        for group in phases(faults):
            if group[0] in RESTARTS:
                reports.append(
                    run.phase(
                        f"{group[0]} restart",
                        group,
                        posts_per_client=max(1, args.posts // 2),
                        spread_s=30,
                        window_s=args.window,
                    )
                )
            else:
                reports.append(
                    run.phase(
                        "service kill -9s and platform faults",
                        group,
                        posts_per_client=args.posts,
                        spread_s=args.spread,
                        window_s=args.window,
                    )
                )
        print()
        for report in reports:
            print("\n".join(report.lines()))
            print()
        print(f"total {time.monotonic() - started:.0f} s")
        why = keep_reason(reports, asked=args.keep)
        if why is not None:
            var.keep(why)
        if all(r.holds() for r in reports):
            return 0
        var.keep("a target was not met")
        return 1


if __name__ == "__main__":
    sys.exit(main())
