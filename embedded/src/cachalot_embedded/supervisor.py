"""Start, watch and stop child processes with readable, prefixed output.

Each child's stdout/stderr lines are printed as ``name | line`` in a stable
colour per name. A child that dies unexpectedly is started again after
about a second, at most :data:`RESTART_DELAY_MAX_S` (it fails on its own,
like in production); Ctrl-C or SIGTERM stops every child, newest first, with
SIGTERM and then SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

LAST_LINES = 20
"""How many of a child's last output lines are kept, to show when it does not start."""
RESTART_DELAY_MAX_S = 2.0
"""The longest pause before a dead child is started again. It grew to 30 s before
(doubling with every restart in the process's life, never reset): after a few broker
kills the embedded broker stayed away half a minute (issue 11, fresh11c), where the
README promises about a second; a child that fails at once every time costs one start
every two seconds."""

_COLOURS = ("36", "32", "35", "33", "34", "96", "92", "95", "93", "94")


def restart_delay_s(restarts: int) -> float:
    """Seconds to wait before the ``restarts``-th start of a dead child (1-based): 1 s,
    then :data:`RESTART_DELAY_MAX_S`."""
    return float(min(RESTART_DELAY_MAX_S, 0.5 * 2 ** min(max(restarts, 1), 6)))


def _paint(text: str, colour: str) -> str:
    if not sys.stdout.isatty() or os.environ.get("NO_COLOR"):
        return text
    return f"\033[{colour}m{text}\033[0m"


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    env: dict[str, str]
    health_url: str | None = None
    colour: str = "37"
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    stopping: bool = False
    pump: asyncio.Task[None] | None = field(default=None, repr=False)
    last_lines: deque[str] = field(
        default_factory=lambda: deque(maxlen=LAST_LINES), repr=False
    )  # its latest output, across restarts (:data:`LAST_LINES`)


class Supervisor:
    """Owns the children; one instance per ``make dev``."""

    def __init__(self, width: int = 18) -> None:
        self.children: list[Child] = []
        self.width = width
        self._watchers: list[asyncio.Task[None]] = []
        self.stopping = False

    def say(self, name: str, line: str, colour: str = "1") -> None:
        prefix = _paint(f"{name:<{self.width}}|", colour)
        print(f"{prefix} {line}", flush=True)

    async def start(self, child: Child) -> None:
        child.colour = _COLOURS[len(self.children) % len(_COLOURS)]
        self.children.append(child)
        await self._spawn(child)
        self._watchers.append(asyncio.create_task(self._watch(child)))

    async def _spawn(self, child: Child) -> None:
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            env=child.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        child.pump = asyncio.create_task(self._pump(child, child.process))

    async def _pump(self, child: Child, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            child.last_lines.append(line)
            self.say(child.name, line, child.colour)

    async def _watch(self, child: Child) -> None:
        while True:
            assert child.process is not None
            code = await child.process.wait()
            if child.pump:
                with contextlib.suppress(Exception):
                    await child.pump
            if child.stopping or self.stopping:
                return
            if code == 2:
                self.say(
                    child.name, "exited with code 2 (configuration error); not restarting", "31"
                )
                return
            child.restarts += 1
            delay = restart_delay_s(child.restarts)
            self.say(child.name, f"exited with code {code}; restarting in {delay:.1f}s", "31")
            await asyncio.sleep(delay)
            if self.stopping:
                return
            await self._spawn(child)

    async def wait_healthy(self, child: Child, timeout: float = 60.0) -> bool:
        """Whether ``child`` answers 200 on its ``health_url`` within ``timeout`` seconds
        (asked at least once; False at once when it exited with code 2, a configuration
        error it does not come back from)."""
        if child.health_url is None:
            return True
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                if child.process is not None and child.process.returncode == 2:
                    return False
                try:
                    if (await client.get(child.health_url)).status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
                if time.monotonic() >= deadline:
                    return False
                await asyncio.sleep(0.1)

    async def wait_all_healthy(self, timeout: float) -> list[Child]:
        """Wait for every child to be healthy, ``timeout`` seconds for all together; the
        children still not healthy then (each asked once more), in start order."""
        deadline = time.monotonic() + timeout
        return [
            child
            for child in list(self.children)
            if not await self.wait_healthy(child, max(0.0, deadline - time.monotonic()))
        ]

    def say_unhealthy(self, children: Sequence[Child], timeout: float, hint: str) -> None:
        """Tell which ``children`` did not become healthy within ``timeout`` seconds, each
        with its last output lines (:data:`LAST_LINES`), and ``hint`` (how to wait longer)."""
        names = ", ".join(c.name for c in children)
        self.say("cachalot-dev", f"not healthy after {timeout:g} s: {names}; {hint}", "31")
        for child in children:
            code = child.process.returncode if child.process is not None else None
            state = "running" if code is None else f"exited with code {code}"
            self.say(child.name, f"-- {state}, its last {len(child.last_lines)} lines:", "31")
            for line in child.last_lines:
                self.say(child.name, line, "31")

    async def stop_all(self, grace: float = 12.0) -> None:
        self.stopping = True
        for child in reversed(self.children):
            child.stopping = True
            if child.process and child.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            if child.process and child.process.returncode is None:
                remaining = max(0.1, deadline - time.monotonic())
                try:
                    await asyncio.wait_for(child.process.wait(), remaining)
                except TimeoutError:
                    self.say(child.name, "did not stop in time; killing", "31")
                    with contextlib.suppress(ProcessLookupError):
                        child.process.kill()
                    await child.process.wait()
        for task in self._watchers:
            task.cancel()
