"""The whole system in embedded mode, as ``make dev`` runs it, for end-to-end tests.

Started with ``--free-ports`` so it never collides with a developer's own
``make dev`` or another test run; where everything listens is read from the
``dev-stack.json`` the runner writes once every process is healthy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import httpx

from cachalot_testing import broker
from cachalot_testing.processes import ServiceProcess, descendants, end_processes, terminate


def with_secret_parts(values: Iterable[str]) -> list[str]:
    """Each value, and the part after its first ``:`` when it has one (a key ring's
    ``v1:<key>``, a signing key's ``<kid>:<key>``, a bot token's ``<id>:<secret>``):
    what a leak check looks for."""
    found: list[str] = []
    for value in values:
        found.append(value)
        if ":" in value:
            found.append(value.split(":", 1)[1])
    return found


class EmbeddedStack:
    def __init__(
        self,
        var_dir: Path,
        *,
        services: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        kafka_bootstrap: str | None = None,
    ) -> None:
        self.var_dir = var_dir
        self.services = tuple(services)
        self.env = dict(env or {})
        self._bootstrap = kafka_bootstrap
        if kafka_bootstrap:
            self.env["CACHALOT_KAFKA_BOOTSTRAP"] = kafka_bootstrap
        self.log_path = var_dir / "stack.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self._spawned: list[ServiceProcess] = []

    def start(self, timeout: float = 90.0) -> EmbeddedStack:
        """Start every process; returns once the runner wrote ``dev-stack.json``.

        ``TimeoutError`` after ``timeout`` seconds, ``RuntimeError`` if the runner
        exited, ``BrokerInUse`` (before anything starts) when ``kafka_bootstrap``
        serves another running stack (:func:`cachalot_testing.broker.claim`).
        """
        if self._bootstrap:
            broker.claim(self._bootstrap, str(self.var_dir))
        try:
            self.var_dir.mkdir(parents=True, exist_ok=True)
            self.log_path.touch()
        except OSError:
            broker.release(self._bootstrap or "", str(self.var_dir))
            raise
        stack_file = self.var_dir / "dev-stack.json"
        stack_file.unlink(missing_ok=True)
        argv = [
            sys.executable,
            "-m",
            "cachalot_embedded",
            "--free-ports",
            "--var-dir",
            str(self.var_dir),
        ]
        if self.services:
            argv += ["--services", ",".join(self.services)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CACHALOT_")}
        env.update({"NO_COLOR": "1", **self.env})
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self.stop()
                raise RuntimeError(f"embedded stack exited:\n{self.output()[-4000:]}")
            if stack_file.exists():
                self.info = json.loads(stack_file.read_text())
                return self
            time.sleep(0.2)
        waiting = self.not_up()
        self.stop()
        raise TimeoutError(
            f"embedded stack not up after {timeout:g}s; not up: "
            + (", ".join(f"{name} ({why})" for name, why in waiting.items()) or "none named")
            + f". Every process's output is in {self.log_path} (lines '<name> |'), "
            f"each service's access log in {self.var_dir / 'access-logs'}:\n"
            + self.output()[-4000:]
        )

    def not_up(self) -> dict[str, str]:
        """The services of this stack that are not up yet, each with why: ``not running``
        (no process of it: not started yet, or between restarts) or ``no healthy /healthz``
        (running, but its ``GET /healthz`` on its ``CACHALOT_HTTP_PORT`` is not 200 within
        1 s). Read from ``/proc`` (Linux) while the stack runs; services not installed are
        left out, as embedded mode skips them."""
        from cachalot_embedded.stack import SANDBOX, SERVICES

        wanted = [
            spec.name
            for spec in (SANDBOX, *SERVICES)
            if spec.available() and (not self.services or spec.name in {*self.services, "sandbox"})
        ]
        running = self.processes()
        found: dict[str, str] = {}
        for name in wanted:
            pid = running.get(name)
            if pid is None:
                found[name] = "not running"
                continue
            try:
                raw = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
                env = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
                port = int(env["CACHALOT_HTTP_PORT"])
                healthy = (
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200
                )
            except (OSError, KeyError, ValueError, httpx.HTTPError):
                healthy = False
            if not healthy:
                found[name] = "no healthy /healthz"
        return found

    @property
    def pid(self) -> int | None:
        """The supervisor's process id (it also serves the gateway) while the stack runs."""
        return self._process.pid if self._process else None

    @property
    def gateway(self) -> str:
        return str(self.info["gateway"])

    @property
    def sandbox(self) -> str:
        return str(self.info["sandbox"])

    def service_url(self, name: str) -> str:
        return str(self.info["services"][name])

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logs(self) -> dict[str, str]:
        """Every log this stack wrote, whole, by name: the output of every process
        (``stack output``) and each service's access log."""
        found = {"stack output": self.output()}
        for path in (self.var_dir / "access-logs").glob("*"):
            found[path.name] = path.read_text(errors="replace")
        return found

    def own_secrets(self) -> list[str]:
        """The deployment's own secrets this stack generated (``dev-secrets.json``: session
        and state secrets, token key, bot token, service secrets, grant signing key), each
        whole and, for a ``<id>:<secret>`` value, its secret part."""
        generated = json.loads((self.var_dir / "dev-secrets.json").read_text())
        return with_secret_parts(generated.values())

    def processes(self) -> dict[str, int]:
        """The stack's running children by name (``sandbox``, ``queue``, ``publisher-tiktok``…).

        Read from ``/proc`` (Linux): every child of the stack's supervisor whose
        command line is ``python -m cachalot_<name>``, plus ``kafka`` for an
        embedded broker; the value is its process id.
        """
        if self._process is None:
            return {}
        parent = self._process.pid
        found: dict[str, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) != parent:
                continue
            words = [a.decode(errors="replace") for a in argv if a]
            if "-m" in words and words.index("-m") + 1 < len(words):
                module = words[words.index("-m") + 1]
                found[module.removeprefix("cachalot_").replace("_", "-")] = int(entry.name)
            elif words and Path(words[0]).name.startswith("tansu"):  # tansu-v0.6.0-510f3e2
                found["kafka"] = int(entry.name)
        return found

    def kill(self, name: str) -> int:
        """``kill -9`` of the child ``name``; the stack's supervisor starts it again (after ~1 s).

        Returns the killed process id. ``KeyError`` if no such child runs.
        """
        pid = self.processes()[name]
        os.kill(pid, signal.SIGKILL)
        return pid

    def spawn(self, name: str, *, log_path: Path | None = None) -> ServiceProcess:
        """One more process of service ``name``, owned by the caller (not started yet).

        Its environment is the one embedded mode gives that service (its database,
        service identity, the broker, auth and queue URLs, this stack's ``env``)
        on a port of its own, so a test can run a second replica beside the stack's
        own or, with ``services`` leaving it out, run, ``kill -9`` and restart the
        only one itself. The stack must be started; ``KeyError`` for an unknown name.
        """
        from cachalot_embedded.stack import SERVICES, process_environment

        spec = next(s for s in SERVICES if s.name == name)
        secrets = json.loads((self.var_dir / "dev-secrets.json").read_text())
        # every child's environment is the same base plus its own few values
        donor = next(pid for child, pid in self.processes().items() if child != "kafka")
        raw = (Path("/proc") / str(donor) / "environ").read_bytes().split(b"\0")
        base = dict(item.decode().split("=", 1) for item in raw if b"=" in item)
        user = {k: v for k, v in self.env.items() if k.startswith("CACHALOT_")}
        process = ServiceProcess(
            spec.module,
            env={},
            log_path=log_path or self.var_dir / f"{name}-{len(self._spawned)}.log",
        )
        process.env = process_environment(
            spec,
            port=process.port,
            base=base,
            user=user,
            var_dir=self.var_dir.resolve(),
            dev_secrets=secrets,
        )
        self._spawned.append(process)
        return process

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop the spawned processes, then the supervisor and everything it started.

        Nothing of the stack outlives this call, even when the supervisor does not
        stop its children itself (SIGKILLed after ``timeout`` seconds, or stopped while
        it was still starting them). The supervisor's exit code, None if none ran.
        """
        for spawned in self._spawned:
            spawned.stop(timeout=timeout)
        self._spawned.clear()
        if self._process is None:
            return None
        # Its children run in sessions of their own: a supervisor that is killed, or
        # exits before stopping them all, leaves them running (parent 1). Whatever ran
        # under it when asked to stop is stopped here after it.
        tree = descendants(self._process.pid)
        code = terminate(self._process, timeout=timeout)
        self._process = None
        end_processes(tree, timeout=timeout)
        if self._bootstrap:  # its services have left the broker's groups
            broker.release(self._bootstrap, str(self.var_dir))
        return code
