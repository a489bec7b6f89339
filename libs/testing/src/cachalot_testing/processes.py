"""Run a CACHALOT service as a real process, as it runs in production.

Tests that kill a service mid-work (``kill -9``), restart it, or read what it
logged need a process, not an in-memory app. Output goes to a file the test
can read (and check for leaked secrets).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from cachalot_testing.ports import free_port


def terminate(process: subprocess.Popen[bytes], *, timeout: float) -> int:
    """SIGTERM, wait up to ``timeout``, then SIGKILL; the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent id, start time in clock ticks) of a live process, from ``/proc`` (Linux)."""
    try:
        fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":  # a zombie: exited, waiting for its parent
        return None
    return int(fields[1]), int(fields[19])


def descendants(pid: int) -> list[tuple[int, int]]:
    """Every live process under ``pid`` (children, theirs…), each as (id, start time):
    the start time tells it from a later process given the same id."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents.setdefault(stat[0], []).append((int(entry.name), stat[1]))
    found: list[tuple[int, int]] = []
    pending = [pid]
    while pending:
        for child in parents.get(pending.pop(), []):
            found.append(child)
            pending.append(child[0])
    return found


def end_processes(processes: list[tuple[int, int]], *, timeout: float) -> None:
    """SIGTERM each of ``processes`` (id, start time) still alive, wait up to ``timeout``
    for all, then SIGKILL the rest; a process whose id now names another is left alone."""

    def alive() -> list[int]:
        return [pid for pid, started in processes if (_stat(pid) or (0, -1))[1] == started]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)


class ServiceProcess:
    """``python -m <module>`` with an environment, a port and a log file."""

    def __init__(
        self,
        module: str,
        *,
        env: Mapping[str, str],
        log_path: Path,
        port: int | None = None,
    ) -> None:
        self.module = module
        self.port = port or free_port()
        self.env = {
            **os.environ,
            "CACHALOT_HTTP_HOST": "127.0.0.1",
            "CACHALOT_HTTP_PORT": str(self.port),
            "CACHALOT_LOG_FORMAT": "json",
            **env,
        }
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self, *, wait: bool = True, timeout: float = 30.0) -> ServiceProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self._process = subprocess.Popen(
            [sys.executable, "-m", self.module], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        if wait:
            self.wait_healthy(timeout=timeout)
        return self

    def wait_healthy(self, *, timeout: float = 30.0, path: str = "/healthz") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                code = self._process.returncode
                raise RuntimeError(f"{self.module} exited with {code}:\n{self.output()[-3000:]}")
            try:
                if httpx.get(self.base_url + path, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{self.module} not healthy after {timeout}s:\n{self.output()[-3000:]}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, *, timeout: float = 15.0) -> int | None:
        """SIGTERM and wait: the graceful stop an orchestrator does."""
        if self._process is None:
            return None
        code = terminate(self._process, timeout=timeout)
        self._process = None
        return code

    def kill(self) -> None:
        """SIGKILL: the crash nothing can clean up after."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None
