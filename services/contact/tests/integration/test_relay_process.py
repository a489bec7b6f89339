"""The relay in a process of its own: the service's child by default, or run beside it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from cachalot_testing.processes import ServiceProcess, terminate

pytestmark = pytest.mark.integration

URL = "/api/v1/contact"
STARTUP_S = 120.0
FORM = {"name": "Relay", "contact": "@relay_person", "category": "other", "message": "hello"}


def environment(tmp_path: Path, bootstrap: str, **extra: str) -> dict[str, str]:
    return {
        "CACHALOT_KAFKA_BOOTSTRAP": bootstrap,
        "CACHALOT_KAFKA_IDEMPOTENCE": "false",
        "CACHALOT_CONTACT_LOG_DIR": str(tmp_path / "contact"),
        "CACHALOT_CONTACT_RATE_LIMITS": "1000/minute",
        "CACHALOT_LOG_FORMAT": "json",
        **extra,
    }


def started_service(tmp_path: Path, bootstrap: str, **extra: str) -> ServiceProcess:
    service = ServiceProcess(
        "cachalot_contact",
        env=environment(tmp_path, bootstrap, **extra),
        log_path=tmp_path / "contact.log",
    )
    return service.start(timeout=STARTUP_S)


def relay_children(parent: int) -> list[int]:
    """Pids of ``parent``'s children running ``cachalot_contact relay``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"relay" in command:
            found.append(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise TimeoutError(what)


def submit(base_url: str, **changes: str) -> str:
    response = httpx.post(base_url + URL, json={**FORM, **changes}, timeout=10)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def test_the_service_runs_its_relay_as_a_child_and_starts_it_again_if_it_dies(
    tmp_path, kafka_bootstrap, topic_events, wait_for_events
):
    service = started_service(tmp_path, kafka_bootstrap)
    assert service.pid is not None
    try:
        [child] = wait_until(lambda: relay_children(service.pid), 30, "no relay child")
        first = submit(service.base_url)
        await wait_for_events({first})
        # readiness follows the relay's health record (written every second): it says ok
        # once the relay's producer has had an answer, not necessarily at the first publish
        ready = wait_until(
            lambda: (
                (r := httpx.get(service.base_url + "/readyz", timeout=5).json())["status"]
                == "ready"
                and r
            ),
            10,
            "the service never said ready",
        )
        assert ready["checks"] == {"log": "ok", "rate_limit_store": "ok"}
        assert ready["dependencies"] == {"relay": "ok", "broker": "ok"}

        cursor_path = tmp_path / "contact" / "relay.cursor"
        wait_until(
            lambda: cursor_path.exists() and json.loads(cursor_path.read_bytes())["seq"] == 1,
            10,
            "the relay never saved its place",
        )
        os.kill(child, signal.SIGKILL)  # the relay crashes; submissions are still taken
        second = submit(service.base_url, name="While the relay was down")
        [again] = wait_until(lambda: relay_children(service.pid), 30, "relay not restarted")
        assert again != child
        await wait_for_events({second}, timeout=30)
    finally:
        service.stop()
    counts = Counter(str(e.event_id) for e in await topic_events())
    assert counts[first] == 1
    assert counts[second] >= 1  # at least once: the killed relay may have sent it already
    log_path = tmp_path / "contact" / "contact.log.jsonl"
    cursor = json.loads(cursor_path.read_bytes())
    assert cursor == {"offset": log_path.stat().st_size, "seq": 2}  # the child saved on its way out


async def test_a_killed_service_leaves_no_relay_behind(tmp_path, kafka_bootstrap):
    service = started_service(tmp_path, kafka_bootstrap)
    assert service.pid is not None
    [child] = wait_until(lambda: relay_children(service.pid), 30, "no relay child")
    service.kill()
    wait_until(lambda: not running(child), 10, "the relay outlived the service")
    assert "has gone: the relay stops" in service.output()


async def test_an_external_relay_publishes_and_a_second_one_waits_its_turn(
    tmp_path, kafka_bootstrap, topic_events, wait_for_events
):
    env = environment(tmp_path, kafka_bootstrap, CACHALOT_CONTACT_RELAY="external")
    service = started_service(tmp_path, kafka_bootstrap, CACHALOT_CONTACT_RELAY="external")
    relay_command = [sys.executable, "-m", "cachalot_contact", "relay"]
    logs = [tmp_path / "relay-1.log", tmp_path / "relay-2.log"]
    relays = []
    try:
        for path in logs:
            with path.open("wb") as out:
                relays.append(
                    subprocess.Popen(
                        relay_command,
                        env={**os.environ, **env},
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
            if not relays[1:]:  # the first one takes the lock before the second starts
                first = submit(service.base_url)
                await wait_for_events({first}, timeout=60)
        wait_until(
            lambda: "another relay holds" in logs[1].read_text(), 60, "second relay not waiting"
        )
        assert terminate(relays[0], timeout=15) == 0
        second = submit(service.base_url, name="After the hand-over")
        await wait_for_events({second}, timeout=60)
    finally:
        for relay in relays:
            terminate(relay, timeout=15)
        service.stop()
    counts = Counter(str(e.event_id) for e in await topic_events())
    assert (counts[first], counts[second]) == (1, 1)


async def test_the_relay_never_publishes_what_the_writer_has_not_marked_durable(
    tmp_path, kafka_bootstrap, topic_events
):
    """Bytes in the log file beyond the mark (written, not yet fsynced) stay unpublished.

    A durable line comes first: once it is on the topic and the relay's cursor has
    reached the mark, the relay has read up to the mark and stopped there; a relay that
    ignored the mark would have published the next line in the same pass and moved its
    cursor past it (absence shown by the relay's own progress, not by a sleep).
    """
    from cachalot_contact.chain import Link, make_line
    from cachalot_contact.cursor import CursorFile
    from cachalot_contact.mark import MarkWriter, mark_path

    log_dir = tmp_path / "contact"
    log_dir.mkdir()
    log_path = log_dir / "contact.log.jsonl"

    def event(n: int, name: str) -> dict[str, object]:
        return {
            "event_id": f"00000000-0000-4000-8000-{n:012d}",
            "occurred_at": "2026-01-01T00:00:00Z",
            "type": "contact.submitted",
            "name": name,
            "contact": "@someone",
            "contact_kind": "telegram",
            "category": "other",
            "message": "hi",
            "ip": None,
            "user_agent": None,
        }

    durable, pending = event(10, "Durable"), event(11, "Not yet durable")
    first, link = make_line(durable, Link())
    second, _ = make_line(pending, link)
    log_path.write_bytes(first + second)
    mark = MarkWriter(mark_path(log_path))
    mark.write(len(first))  # the writer has made only the first line durable
    cursor = CursorFile(log_dir / "relay.cursor")
    env = {**os.environ, **environment(tmp_path, kafka_bootstrap)}
    relay = subprocess.Popen(
        [sys.executable, "-m", "cachalot_contact", "relay"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(30):
            while durable["event_id"] not in {str(e.event_id) for e in await topic_events()}:
                await asyncio.sleep(0.1)
            while cursor.load().offset < len(first):
                await asyncio.sleep(0.05)
        assert cursor.load().offset == len(first), "the relay read past the mark"
        assert pending["event_id"] not in {str(e.event_id) for e in await topic_events()}
        mark.write(len(first) + len(second))  # the fsync happened
        async with asyncio.timeout(30):
            while pending["event_id"] not in {str(e.event_id) for e in await topic_events()}:
                await asyncio.sleep(0.2)
    finally:
        terminate(relay, timeout=15)
        mark.close()


async def test_readiness_says_degraded_while_the_relay_cannot_publish_although_the_port_answers(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    """Issue 11: alive and a port that accepts connections is not a working relay.

    The bootstrap first points at a socket that accepts connections and never
    speaks Kafka (a broker that came back but does not answer): the old
    checks (``broker``: a TCP connect; ``relay``: the child is alive) both said
    ok. Then the real broker: ready, and a submission reaches the topic.
    """
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    port = silent.getsockname()[1]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    service = started_service(tmp_path / "a", f"127.0.0.1:{port}")
    try:
        wait_until(lambda: relay_children(service.pid or 0), 30, "no relay child")
        submit(service.base_url)
        for _ in range(3):  # checked a few times over several seconds: never ok
            ready = httpx.get(service.base_url + "/readyz", timeout=5)
            # still taking submissions (they wait in the log): degraded, not refused
            assert ready.status_code == 200
            assert ready.json()["status"] == "degraded"
            checks = ready.json()["dependencies"]
            assert checks["broker"] == "ok", "the port answers"
            assert checks["relay"] == "failing", checks
            time.sleep(2)
    finally:
        service.stop()
        silent.close()

    service = started_service(tmp_path / "b", kafka_bootstrap)
    try:
        wait_until(
            lambda: httpx.get(service.base_url + "/readyz", timeout=5).json()["status"] == "ready",
            30,
            "ready once the relay publishes",
        )
    finally:
        service.stop()
