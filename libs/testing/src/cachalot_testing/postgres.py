"""A throwaway PostgreSQL cluster: initdb + pg_ctl in a temp dir on a free port.

Debian's server binaries live in ``/usr/lib/postgresql/<v>/bin``. PostgreSQL
refuses to run as root, so under root (CI) the cluster runs as the
``postgres`` system user that Debian's package creates.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from cachalot_testing.ports import free_port


def _bin(name: str) -> str:
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(
        f"{name} not found: install PostgreSQL (apt-get install postgresql) to run these tests"
    )


class PostgresCluster:
    """A private cluster; ``url(db)`` gives an asyncpg SQLAlchemy URL."""

    def __init__(self, *, durable: bool = False) -> None:
        """``durable``: fsync and synchronous commits on, as in production, so a crash
        (:meth:`restart`) loses no acknowledged commit; off by default for speed."""
        self.durable = durable
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cachalot-pg-"))
        self.data = self.root / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            pw = pwd.getpwnam(self.user)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        self.superuser = "cachalot"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            list(args),
            check=False,
            user=self.user,
            cwd=self.root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {message}")

    def start(self) -> PostgresCluster:
        """initdb, then start the server (``-w``: returns once it accepts connections)."""
        self._run(
            _bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            self.superuser,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        self._start_server()
        return self

    def _start_server(self) -> None:
        fast = (
            ""
            if self.durable
            else ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off ")
        )
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            f"{fast}-c max_connections=200"
        )
        self._run(
            _bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "server.log"),
            "-w",
            "start",
        )

    def restart(self, *, down_s: float = 0.0) -> None:
        """Crash the server (immediate stop: no checkpoint, clients cut off), stay down
        ``down_s`` seconds, start it again on the same port and data; its databases stay."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        time.sleep(down_s)
        self._start_server()

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, FileNotFoundError):
            self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        self._run(
            _bin("createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            self.superuser,
            name,
        )
        return self.url(name)
