"""Throughput and latency of ``POST /api/v1/contact`` beside a bare FastAPI endpoint.

    uv run python bench/contact_intake.py [--duration 24] [--rounds 8] [--connections 64]

Starts a real Tansu broker, the contact service as its own process (fsynced
hash-chained log, its relay child process publishing to Kafka, rate limit set
out of reach; the CPU figures count both of its processes) and
a bare FastAPI app whose endpoint only answers 202, both built with
``create_service_app`` (same middleware stack) and run under the same uvicorn
settings (``cachalot_common.app.serve``, one process each). The same
load generator hits both in the same run: ``wrk`` when it is installed (one
thread, so the server keeps the other core), else an httpx async client with
N concurrent workers. The targets alternate in short rounds, so a busy
neighbour on the machine weighs on both alike. It prints requests per second,
p50/p99 latency and the ratio contact/bare (target: at least 0.5), then checks that the relay
published every record and that the log's chain verifies.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

FORM = {
    "name": "Bench Person",
    "contact": "+7 916 123-45-67",
    "category": "video_production",
    "message": "I would like a series of short videos for our shop. " * 4,
}
PATH = "/api/v1/contact"
HERE = Path(__file__).resolve()


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_s: float = 0.0
    cpu_own_s: float = 0.0  # the server process alone, without its children

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s / max(self.requests, 1) * 1e6


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int, *, children: bool = True) -> float:
    """User + system CPU of a process and its children, such as the contact relay (``/proc``).

    The contact service runs its relay as a child process: its CPU counts
    against the contact service too. 0 where ``/proc`` is unavailable.
    """
    pids = {pid}
    if not children:
        fields = _stat(pid)
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK") if fields else 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[1]) == pid:
            pids.add(int(entry.name))
    total = 0
    for each in pids:
        if fields := _stat(each):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# --- the bare endpoint -----------------------------------------------------------------


def serve_bare() -> None:
    """The baseline: FastAPI answering 202 with an id, nothing else.

    Built with ``create_service_app`` like the contact app, so both run the
    same middleware stack (problem handlers, access log, probes) under the
    same ``serve()``; only the endpoint differs.
    """
    from uuid import uuid4

    from cachalot_common.app import create_service_app, serve
    from cachalot_common.settings import ServiceSettings

    settings = ServiceSettings()
    app = create_service_app(title="bare", settings=settings)

    @app.post(PATH, status_code=202)
    async def accept() -> dict[str, str]:
        return {"id": str(uuid4()), "status": "accepted"}

    # the contact service freezes its start-up heap for the collector; so does the baseline
    gc.collect()
    gc.freeze()
    serve(app, settings)


# --- processes ---------------------------------------------------------------------------


def free_port() -> int:
    from cachalot_testing.ports import free_port as pick

    return pick()


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], env={**os.environ, **env}, stdout=out, stderr=out
        )


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# --- load generators ---------------------------------------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT %%d %%d %%f %%f %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), errors))
end
"""


def run_wrk(name: str, url: str, seconds: float, connections: int, workdir: Path) -> Result:
    script = workdir / "post.lua"
    script.write_text(WRK_SCRIPT % json.dumps(FORM))
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "-s", str(script), url]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    requests, duration_us, p50_us, p99_us, errors = line.split()[1:]
    return Result(
        name,
        int(requests),
        int(duration_us) / 1e6,
        float(p50_us) / 1000,
        float(p99_us) / 1000,
        int(errors),
    )


async def run_httpx(name: str, url: str, seconds: float, connections: int) -> Result:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, json=FORM)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 202:
                    errors += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    cuts = statistics.quantiles(latencies, n=100)
    return Result(name, len(latencies), elapsed, cuts[49] * 1000, cuts[98] * 1000, errors)


def load(name: str, url: str, seconds: float, args: argparse.Namespace, workdir: Path) -> Result:
    if args.tool == "wrk":
        return run_wrk(name, url, seconds, args.connections, workdir)
    return asyncio.run(run_httpx(name, url, seconds, args.connections))


def combine(rounds: list[Result]) -> Result:
    """Rounds of one target: total requests over total time; median p50, worst p99."""
    return Result(
        rounds[0].name,
        sum(r.requests for r in rounds),
        sum(r.seconds for r in rounds),
        statistics.median(r.p50_ms for r in rounds),
        max(r.p99_ms for r in rounds),
        sum(r.errors for r in rounds),
        sum(r.cpu_s for r in rounds),
        sum(r.cpu_own_s for r in rounds),
    )


def measure(
    targets: dict[str, tuple[str, int]], args: argparse.Namespace, workdir: Path
) -> tuple[list[Result], list[float]]:
    """Warm each target up, then alternate short rounds so both see the same machine.

    Returns each target's rounds combined, and the ratio second/first of each
    pair of adjacent rounds (their spread shows how noisy the machine was).
    """
    for name, (url, _) in targets.items():
        load(name, url, args.warmup, args, workdir)
    rounds: dict[str, list[Result]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, (url, pid) in targets.items():
            before, own_before = cpu_seconds(pid), cpu_seconds(pid, children=False)
            result = load(name, url, args.duration / args.rounds, args, workdir)
            result.cpu_s = cpu_seconds(pid) - before
            result.cpu_own_s = cpu_seconds(pid, children=False) - own_before
            rounds[name].append(result)
    first, second = rounds.values()
    pairs = [b.rps / a.rps for a, b in zip(first, second, strict=True)]
    return [combine(r) for r in rounds.values()], pairs


# --- checks after the run ----------------------------------------------------------------


def relay_caught_up(log_dir: Path, timeout: float = 60.0) -> tuple[int, float]:
    """Wait for the relay's cursor to reach the end of the log; (records, seconds waited)."""
    log, cursor = log_dir / "contact.log.jsonl", log_dir / "relay.cursor"
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            position = json.loads(cursor.read_bytes())
        except (FileNotFoundError, ValueError):
            position = {"offset": -1, "seq": 0}
        if position["offset"] == log.stat().st_size:
            return int(position["seq"]), time.monotonic() - began
        time.sleep(0.1)
    raise TimeoutError("the relay did not catch up with the log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=24.0, help="seconds measured per target")
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per target")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--tool", choices=["auto", "wrk", "httpx"], default="auto")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_bare:
        serve_bare()
        return
    if args.tool == "auto":
        args.tool = "wrk" if shutil.which("wrk") else "httpx"

    from cachalot_testing.broker import TansuBroker

    workdir = Path(tempfile.mkdtemp(prefix="cachalot-bench-"))
    log_dir = workdir / "contact"
    broker = TansuBroker(log_path=workdir / "tansu.log").start()
    common = {"CACHALOT_LOG_LEVEL": "WARNING", "CACHALOT_LOG_FORMAT": "text"}
    bare_port, contact_port = free_port(), free_port()
    bare = start(
        [str(HERE), "--serve-bare"],
        {**common, "CACHALOT_HTTP_PORT": str(bare_port)},
        workdir / "bare.log",
    )
    contact = start(
        ["-m", "cachalot_contact"],
        {
            **common,
            "CACHALOT_HTTP_PORT": str(contact_port),
            "CACHALOT_KAFKA_BOOTSTRAP": broker.bootstrap,
            "CACHALOT_KAFKA_IDEMPOTENCE": "false",
            "CACHALOT_CONTACT_LOG_DIR": str(log_dir),
            "CACHALOT_CONTACT_RATE_LIMITS": "1000000000/minute",
        },
        workdir / "contact.log",
    )
    try:
        wait_ready(f"http://127.0.0.1:{bare_port}/openapi.json", bare)
        wait_ready(f"http://127.0.0.1:{contact_port}/readyz", contact)
        print(
            f"load: {args.tool}, {args.connections} connections, "
            f"{args.warmup:g}s warm-up + {args.rounds} alternating rounds, {args.duration:g}s "
            f"each in all; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
        )
        targets = {
            "bare FastAPI 202": (f"http://127.0.0.1:{bare_port}{PATH}", bare.pid),
            "POST /api/v1/contact": (f"http://127.0.0.1:{contact_port}{PATH}", contact.pid),
        }
        results, pairs = measure(targets, args, workdir)
        published, lag = relay_caught_up(log_dir)
    finally:
        stop(contact)
        stop(bare)
        broker.stop()

    header = f"{'endpoint':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    print(f"\n{header}{'server CPU µs/req':>19}")
    for r in results:
        print(
            f"{r.name:<24}{r.rps:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}"
            f"{r.cpu_us_per_request:>19.0f}"
        )
    ratio = results[1].rps / results[0].rps
    verdict = "meets" if ratio >= 0.5 else "BELOW"
    print(f"\nratio contact/bare: {ratio:.2f} ({verdict} the 0.5 target)")
    print(
        f"ratio per pair of adjacent rounds: min {min(pairs):.2f}, "
        f"median {statistics.median(pairs):.2f}, max {max(pairs):.2f}"
    )
    cpu_ratio = results[0].cpu_us_per_request / max(results[1].cpu_us_per_request, 1e-9)
    print(f"CPU ratio (bare µs/req ÷ contact µs/req, all its processes): {cpu_ratio:.2f}")
    measured = results[1]
    http_us = measured.cpu_own_s / max(measured.requests, 1) * 1e6
    print(
        f"contact CPU split: HTTP process {http_us:.0f} µs/req, "
        f"relay process {measured.cpu_us_per_request - http_us:.0f} µs/req"
    )
    check = subprocess.run(
        [sys.executable, "-m", "cachalot_contact", "verify", str(log_dir / "contact.log.jsonl")],
        capture_output=True,
        text=True,
    )
    print(f"relay: {published} records published, caught up {lag:.1f}s after the load stopped")
    print(f"verify: {check.stdout.strip() or check.stderr.strip()}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
