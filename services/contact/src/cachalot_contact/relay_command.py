"""``python -m cachalot_contact relay``: the relay in a process of its own.

The HTTP service starts this as its child by default
(``CACHALOT_CONTACT_RELAY=process``); with ``external`` it runs beside the
service instead, for example as a sidecar container sharing the log
directory. Either way it reads only what the writer has marked durable
(:mod:`cachalot_contact.mark`), so it never publishes a line that is not on
disk.

* One relay per log: it holds ``relay.lock`` (``flock``) in the log directory
  and waits while another relay has it, so two relays never race on the
  cursor.
* SIGTERM or SIGINT: it keeps publishing what is durable for up to
  ``DRAIN_S`` seconds, saves its cursor and exits 0.
* ``--parent PID``: it also stops that way once process ``PID`` (the service
  that started it) is gone, even after a SIGKILL, so no orphan outlives the
  service.
* Every ``HEALTH_INTERVAL_S`` it writes ``relay.health`` in the log directory:
  whether its own producer got an answer from the broker this time, when it
  last did, how far it has published and how many publish rounds failed in a
  row (``{"ok": bool, "answered_at": unix time or null, "cursor": byte offset,
  "failures": int, "at": unix time}``; a round fails when the broker refuses,
  or when its acknowledgement cannot be read back).
  The service's ``/readyz`` reads it (:mod:`cachalot_contact.relay_process`):
  a relay that is alive but cannot publish is not ready (issue 11).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cachalot_common.broker_acks import ack_check
from cachalot_common.logging import setup_logging
from cachalot_common.outbox import OutboxRelay
from cachalot_common.settings import load_settings
from cachalot_common.telemetry import setup_tracing
from cachalot_common.topics import CONTACT_SUBMITTED
from cachalot_contact.cursor import CursorFile
from cachalot_contact.relay import LogSource, connect_then_run, kafka_publisher, log_relay
from cachalot_contact.settings import ContactSettings
from cachalot_contact.tail import LogTail

SERVICE = "contact-relay"
DRAIN_S = 3.0
WATCH_S = 0.5
HEALTH_FILE = "relay.health"
HEALTH_INTERVAL_S = 1.0
logger = logging.getLogger(__name__)


async def hold_lock(path: Path, stop: asyncio.Event) -> int | None:
    """Take the relay lock, waiting while another relay holds it; ``None`` if told to stop."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o640)
    told = False
    while not stop.is_set():
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not told:
                logger.warning("another relay holds %s: waiting for it to stop", path)
                told = True
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WATCH_S):
                    await stop.wait()
            continue
        return fd
    os.close(fd)
    return None


async def wait_for_writer(tail: LogTail, stop: asyncio.Event) -> bool:
    """Wait until the log's writer has marked the log once; ``False`` if told to stop."""
    told = False
    while not tail.marked():
        if not told:
            logger.info("waiting for the contact log's writer to mark %s", tail.path)
            told = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WATCH_S):
                await stop.wait()
        if stop.is_set():
            return False
    return True


async def watch_parent(parent: int, stop: asyncio.Event) -> None:
    """Set ``stop`` once ``parent`` is no longer this process's parent (it has gone)."""
    while os.getppid() == parent:  # noqa: ASYNC110 - no event tells a process its parent died
        await asyncio.sleep(WATCH_S)
    logger.warning("the contact service (pid %d) has gone: the relay stops", parent)
    stop.set()


def write_health(
    path: Path, *, ok: bool, answered_at: float | None, cursor: int, failures: int = 0
) -> None:
    """Replace ``path`` with the relay's state (atomically: a reader sees old or new)."""
    scratch = path.with_suffix(".tmp")
    state = {
        "ok": ok,
        "answered_at": answered_at,
        "cursor": cursor,
        "failures": failures,
        "at": time.time(),
    }
    scratch.write_text(json.dumps(state))
    os.replace(scratch, path)


async def report_health(relay: OutboxRelay, source: LogSource, publisher: Any, path: Path) -> None:
    """Write ``relay.health`` every ``HEALTH_INTERVAL_S`` until cancelled (more often
    until the producer first answers, so a relay that just connected says so)."""
    answered_at: float | None = None
    while True:
        try:
            ok = bool(await publisher.ready())
        except Exception:
            ok = False
        if ok:
            answered_at = time.time()
        acknowledged_at = relay.health().answered_at
        if acknowledged_at is not None:  # an acknowledged batch is an answer too
            answered_at = max(answered_at or 0.0, acknowledged_at)
        with contextlib.suppress(OSError):
            await asyncio.to_thread(
                write_health,
                path,
                ok=ok,
                answered_at=answered_at,
                cursor=source.cursor.offset,
                failures=relay.health().failures,
            )
        await asyncio.sleep(HEALTH_INTERVAL_S if answered_at else HEALTH_INTERVAL_S / 10)


async def run(settings: ContactSettings, *, parent: int | None) -> int:
    """Relay until stopped; the exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = (
        asyncio.create_task(watch_parent(parent, stop), name="watch-parent")
        if parent is not None
        else None
    )
    lock = await hold_lock(settings.contact_log_dir / "relay.lock", stop)
    if lock is None:
        return 0
    tail = LogTail(settings.log_path)
    provider = (
        setup_tracing(SERVICE, otlp_endpoint=settings.otlp_endpoint)
        if settings.otlp_endpoint
        else None
    )
    publisher = kafka_publisher(settings, client_id=SERVICE, tracer_provider=provider)
    source = LogSource(tail, CursorFile(settings.cursor_path))
    # every acknowledgement is read back before the cursor moves (issue 11)
    relay = log_relay(source, publisher, check=ack_check(settings))
    try:
        if not await wait_for_writer(tail, stop):
            return 0
        logger.info(
            "relay: publishing %s to %s (pid %d)", settings.log_path, CONTACT_SUBMITTED, os.getpid()
        )
        task = asyncio.create_task(connect_then_run(relay, publisher.connect), name="contact-relay")
        health = asyncio.create_task(
            report_health(relay, source, publisher, settings.contact_log_dir / HEALTH_FILE),
            name="contact-relay-health",
        )
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        health.cancel()
        if task.done():  # it only ends by failing
            task.result()
        await relay.stop(task, DRAIN_S)
        return 0
    finally:
        if watcher is not None:
            watcher.cancel()
        await publisher.close()
        tail.close()
        os.close(lock)  # releases the lock


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m cachalot_contact relay")
    parser.add_argument(
        "--parent",
        type=int,
        metavar="PID",
        help="stop once process PID (the service that started this relay) is gone",
    )
    args = parser.parse_args(argv)
    settings = load_settings(ContactSettings, SERVICE)
    setup_logging(SERVICE, level=settings.log_level, fmt=settings.log_format)
    return asyncio.run(run(settings, parent=args.parent))
