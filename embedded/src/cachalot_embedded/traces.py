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

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PHOENIX = ROOT / ".traces" / "bin" / "phoenix"
INSTALL = "make traces (arize-phoenix, pinned in embedded/traces.txt, into .traces/)"
# how long Phoenix may take to answer /healthz (imports and migrations: ~90 s at load 18)
START_TIMEOUT_S = 240.0
PROJECT = "cachalot"
"""The Phoenix project every service's spans go to (resource ``openinference.project.name``)."""


def wanted(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Whether ``make dev`` should run the tracing UI (``CACHALOT_DEV_TRACES`` = 1/true/yes)."""
    return environ.get("CACHALOT_DEV_TRACES", "").strip().lower() in {"1", "true", "yes"}


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
        its API, into ``make dev``'s console. The banner it prints as it starts stays."""
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
        }
