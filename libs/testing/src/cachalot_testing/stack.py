"""The whole system in embedded mode, as ``make dev`` runs it, for end-to-end tests.

Started with ``--free-ports`` so it never collides with a developer's own
``make dev`` or another test run; where everything listens is read from the
``dev-stack.json`` the runner writes once every process is healthy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cachalot_testing.processes import terminate


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
        if kafka_bootstrap:
            self.env["CACHALOT_KAFKA_BOOTSTRAP"] = kafka_bootstrap
        self.log_path = var_dir / "stack.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def start(self, timeout: float = 90.0) -> EmbeddedStack:
        self.var_dir.mkdir(parents=True, exist_ok=True)
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
                raise RuntimeError(f"embedded stack exited:\n{self.output()[-4000:]}")
            if stack_file.exists():
                self.info = json.loads(stack_file.read_text())
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"embedded stack not up after {timeout}s:\n{self.output()[-4000:]}")

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

    def stop(self, timeout: float = 30.0) -> int | None:
        if self._process is None:
            return None
        code = terminate(self._process, timeout=timeout)
        self._process = None
        return code
