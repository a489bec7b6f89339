"""The tracing UI of embedded mode: Arize Phoenix, run by ``make dev TRACES=1``.

Jaeger (compose, Kubernetes) ships in no package registry the project uses;
Phoenix does (PyPI ``arize-phoenix``), takes OTLP over HTTP at ``/v1/traces``
on the same port as its UI, keeps its spans in SQLite under ``var/traces`` and
answers a REST API (``GET /v1/projects/{project}/spans?trace_id=``) that the
end-to-end test reads a trace back from. Its UI opens a trace by its W3C id at
``/redirects/traces/{trace_id}``, whatever project holds it.

It is heavy (about 600 MB of dependencies, a minute or more to start on a
busy machine), so it lives outside the workspace's lock, in ``.traces/``
(``make traces``, pinned in ``embedded/traces.txt``), and runs only when asked
(``CACHALOT_DEV_TRACES=1``, which ``make dev TRACES=1`` sets).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PHOENIX = ROOT / ".traces" / "bin" / "phoenix"
INSTALL = "make traces (arize-phoenix, pinned in embedded/traces.txt, into .traces/)"
# how long Phoenix may take to answer /healthz (imports and migrations: ~90 s at load 18,
# over 240 s at load 17-29 in a fresh user's first start, fresh13e); waiting costs nothing
# when it is quicker; CACHALOT_DEV_TRACES_START_S sets another (start_timeout_s)
START_TIMEOUT_S = 600.0
DATABASE = "phoenix.db"
"""Phoenix's SQLite file in its working directory (``var/traces``)."""
PROJECT = "cachalot"
"""The Phoenix project every service's spans go to (resource ``openinference.project.name``)."""


def wanted(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether ``make dev`` should run the tracing UI (``CACHALOT_DEV_TRACES`` = 1/true/yes)."""
    return environ.get("CACHALOT_DEV_TRACES", "").strip().lower() in {"1", "true", "yes"}


def start_timeout_s(environ: dict[str, str] | os._Environ[str] = os.environ) -> float:
    """Seconds Phoenix may take to answer ``/healthz``: ``CACHALOT_DEV_TRACES_START_S``
    (a positive number), else :data:`START_TIMEOUT_S`. Raises ValueError naming the
    setting for anything else."""
    raw = environ.get("CACHALOT_DEV_TRACES_START_S", "").strip()
    if not raw:
        return START_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"CACHALOT_DEV_TRACES_START_S={raw!r}: a number of seconds above 0")
    return value


def unfinished(database: Path) -> bool:
    """Whether ``database`` is a Phoenix database whose first migration was cut short:
    tables made but no revision stamped (``alembic_version`` missing or empty). Phoenix
    then fails at every start (``table projects already exists``: the migration runs
    again from the start on the tables it made). False for no file, an empty file, and
    a file SQLite cannot read (Phoenix says what is wrong with those itself)."""
    if not database.is_file() or database.stat().st_size == 0:
        return False
    try:
        with contextlib.closing(sqlite3.connect(database)) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not tables - {"alembic_version"}:
                return False
            if "alembic_version" not in tables:
                return True
            return bool(db.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 0)
    except sqlite3.Error:
        return False


def set_aside_unfinished(working_dir: Path, now: datetime | None = None) -> Path | None:
    """Rename a Phoenix database left :func:`unfinished` by a start cut short (e.g. at the
    start limit on a loaded machine) to ``phoenix.db.unfinished-<UTC stamp>``, with its
    ``-wal`` and ``-shm``, so Phoenix makes a new one; the new name, or None when there
    was nothing to set aside. The old file is kept for whoever wants its spans."""
    database = working_dir / DATABASE
    if not unfinished(database):
        return None
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    aside = working_dir / f"{DATABASE}.unfinished-{stamp}"
    for suffix in ("-wal", "-shm"):
        companion = working_dir / f"{DATABASE}{suffix}"
        if companion.exists():
            companion.rename(working_dir / f"{aside.name}{suffix}")
    database.rename(aside)
    return aside


def phoenix_binary() -> Path | None:
    """``.traces/bin/phoenix`` when ``make traces`` installed it, else None."""
    return PHOENIX if PHOENIX.is_file() and os.access(PHOENIX, os.X_OK) else None


@dataclass(frozen=True)
class TracingUi:
    """Where the UI listens and what the services are told.

    ``otlp_endpoint`` becomes ``CACHALOT_OTLP_ENDPOINT`` (the exporter adds
    ``/v1/traces``) and ``url_template`` ``CACHALOT_TRACE_URL_TEMPLATE``.
    """

    port: int
    grpc_port: int
    working_dir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def otlp_endpoint(self) -> str:
        return self.url

    @property
    def url_template(self) -> str:
        return f"{self.url}/redirects/traces/{{trace_id}}"

    def argv(self, binary: Path) -> list[str]:
        return [str(binary), "serve"]

    def environment(self) -> dict[str, str]:
        """Phoenix's own settings: loopback only, its files under ``var/traces``, no
        usage telemetry of its own (there is no network to send it to anyway), and its
        log at warnings and errors: at its default (info) its web server printed a line
        for every OTLP export each service sends every few seconds, and every read of
        its API, into ``make dev``'s console. The banner it prints as it starts stays.
        Settings: Phoenix's ``phoenix.config`` (``PHOENIX_*``, arize-phoenix 20.x)."""
        self.working_dir.mkdir(parents=True, exist_ok=True)
        return {
            **os.environ,
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": str(self.port),
            "PHOENIX_GRPC_PORT": str(self.grpc_port),
            "PHOENIX_WORKING_DIR": str(self.working_dir),
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_LOG_MIGRATIONS": "false",  # every SQL statement of its migrations, else
            "PHOENIX_LOGGING_LEVEL": "warning",  # its own and its web server's (access) log
            # nothing fetched from the internet on its own initiative (a WASM sandbox
            # binary, a docs MCP server: three tracebacks at every start without a
            # network), and none of the LLM features it serves them for
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
            "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
            "PHOENIX_ALLOWED_SANDBOX_PROVIDERS": "NONE",
            "PHOENIX_ENABLE_MCP_SERVER": "false",
            "PHOENIX_AGENTS_DISABLE_BASH": "true",
        }
