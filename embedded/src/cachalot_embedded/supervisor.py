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
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

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
            self.say(child.name, raw.decode(errors="replace").rstrip(), child.colour)

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
        if child.health_url is None:
            return True
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                if child.process is not None and child.process.returncode == 2:
                    return False
                try:
                    if (await client.get(child.health_url)).status_code == 200:
                        return True
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        return False

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
