"""The whole system laid out as the deploy files describe it, without Docker.

What ``docker compose --profile sandbox up`` would run, on this machine:

* one PostgreSQL cluster with a database and a role per service, made by
  running ``deploy/postgres/initdb`` itself (with the roles' passwords
  required by ``pg_hba.conf``, so each service really signs in as its role);
* the topics made by running ``deploy/kafka/create-topics.sh`` itself, with a
  stand-in for Kafka's ``kafka-topics.sh`` (``KAFKA_BIN``) that writes each
  ``--create`` down; one Kafka admin client then makes them on the broker;
* every service of ``docker-compose.yml`` as separate processes, each with the
  environment compose gives it: its ``environment:`` block interpolated from a
  ``.env`` written from ``deploy/compose.env.example`` the way the operator is
  told to (every ``[SECRET]`` filled, the sandbox lines uncommented); the
  migrations run when each service starts, as under compose; ``replicas``
  processes of a service (two of the queue and of each publisher by default),
  as ``--scale`` runs them;
* the gateway: ``/usr/sbin/nginx`` with ``deploy/gateway/nginx.conf`` and
  ``deploy/gateway/upstreams.conf`` rendered for local ports (each service an
  ``upstream`` of its replicas, as Docker's DNS gives every replica's address).

What differs from a Docker host, and only that (:func:`localize`): host names
become ``127.0.0.1`` and the ports are free ones (replicas share a host
here), named volumes are directories under ``var_dir``, the broker is Tansu,
which refuses idempotent producers and holds a group join for half the
session timeout (so ``CACHALOT_KAFKA_IDEMPOTENCE`` is false and the session
timeout 3 s, as in embedded mode), and Jaeger is a sink that accepts and counts
OTLP requests. A variable a service needs that compose does not give it makes
the service fail here as it would there: a bug in the deploy files.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import secrets
import signal
import stat
import subprocess
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from cachalot_testing.broker import claim, release
from cachalot_testing.loops import run_coroutine
from cachalot_testing.nginx import NGINX, NginxGateway
from cachalot_testing.ports import free_port
from cachalot_testing.postgres import PostgresCluster, _bin
from cachalot_testing.processes import ServiceProcess
from cachalot_testing.stack import with_secret_parts

ROOT = Path(__file__).resolve().parents[4]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
INITDB_DIR = ROOT / "deploy" / "postgres" / "initdb"
CREATE_TOPICS = ROOT / "deploy" / "kafka" / "create-topics.sh"
UPSTREAMS_CONF = ROOT / "deploy" / "gateway" / "upstreams.conf"
#: Two replicas of the queue and of each publisher; one of everything else.
DEFAULT_REPLICAS = {
    "queue": 2,
    "publisher-tiktok": 2,
    "publisher-youtube": 2,
    "publisher-vk": 2,
    "publisher-instagram": 2,
    "publisher-telegram": 2,
}
# a default may hold ``{name}`` placeholders of its own (CACHALOT_TRACE_URL_TEMPLATE's {trace_id})
_INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?-)((?:[^${}]|\{\w*\})*))?\}")


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` (unset or empty) and ``${VAR-default}``
    (unset), nested ones first. ``KeyError`` for a form this does not know."""
    while True:

        def one(match: re.Match[str]) -> str:
            name, op, default = match[1], match[2], match[3] or ""
            value = env.get(name)
            if op == ":-":
                return value if value else default
            if op == "-":
                return default if value is None else value
            return value or ""

        replaced = _INTERPOLATION.sub(one, text)
        if replaced == text:
            if "${" in replaced:
                raise KeyError(f"interpolation not understood: {text!r}")
            return replaced
        text = replaced


def read_env_example(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """``KEY=value`` lines of ``deploy/compose.env.example``, plus its sandbox section's
    commented ``# KEY=value`` lines, uncommented as it tells a trial to do."""
    values: dict[str, str] = {}
    in_sandbox = False
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("# ----"):
            in_sandbox = "sandbox" in line
            continue
        if in_sandbox and line.startswith("# ") and re.match(r"# [A-Z_]+=", line):
            line = line[2:]
        match = re.match(r"^([A-Z][A-Z0-9_]*)=(.*)$", line)
        if match:
            values[match[1]] = match[2]
    return values


def compose_environment(service: str, dotenv: Mapping[str, str]) -> dict[str, str]:
    """The environment compose gives ``service``: its ``environment:`` block (anchors
    merged), each value interpolated from ``dotenv``; a bare ``VAR:`` takes ``dotenv``'s
    value and is left out when ``dotenv`` has none (as compose does)."""
    spec = yaml.safe_load(COMPOSE_FILE.read_text())["services"][service]
    env: dict[str, str] = {}
    for name, value in (spec.get("environment") or {}).items():
        if value is None:
            if name in dotenv:
                env[name] = dotenv[name]
            continue
        env[name] = interpolate(str(value), dotenv)
    return env


def compose_services() -> list[str]:
    """The CACHALOT services of ``docker-compose.yml`` (built from ``services/<name>``),
    the sandbox included."""
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return [
        name
        for name, spec in services.items()
        if isinstance(spec.get("build"), dict)
        and str(spec["build"].get("dockerfile", "")).startswith("services/")
    ]


def compose_volumes(service: str) -> dict[str, str]:
    """``service``'s named volumes: mount path in the container → volume name."""
    spec = yaml.safe_load(COMPOSE_FILE.read_text())["services"][service]
    mounts: dict[str, str] = {}
    for entry in spec.get("volumes") or []:
        source, target = str(entry).split(":")[:2]
        if not source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def localize(
    env: Mapping[str, str],
    *,
    hosts: Mapping[str, str],
    mounts: Mapping[str, Path],
    port: int,
) -> dict[str, str]:
    """``env`` for a process on this machine instead of a container on compose's network.

    ``hosts``: ``service:port`` (compose's name and container port) → ``127.0.0.1:port``;
    ``mounts``: a container path → the directory standing in for its volume; the process
    listens on ``127.0.0.1:port``. Tansu takes no idempotent producer (embedded mode's
    ``CACHALOT_KAFKA_IDEMPOTENCE=false``), and holds a group join for half the session
    timeout (embedded mode's 3 s)."""
    local: dict[str, str] = {}
    for name, value in env.items():
        for address, here in hosts.items():
            value = re.sub(rf"(?<![\w.-]){re.escape(address)}(?![\d])", here, value)
        if value in mounts:
            value = str(mounts[value])
        local[name] = value
    # the images compile their bytecode when built (UV_COMPILE_BYTECODE) and forbid
    # writing it (read-only root); here, without it, each start would compile everything
    local.pop("PYTHONDONTWRITEBYTECODE", None)
    local["CACHALOT_HTTP_HOST"] = "127.0.0.1"
    local["CACHALOT_HTTP_PORT"] = str(port)
    local["CACHALOT_KAFKA_IDEMPOTENCE"] = "false"
    # Tansu holds a group join for about half the session timeout (KafkaSettings): with
    # compose's 10 s default a second replica took over a minute to join its groups
    local["CACHALOT_KAFKA_SESSION_TIMEOUT_MS"] = "3000"
    return local


def _module(service: str) -> str:
    return "cachalot_" + service.replace("-", "_")


class _TraceSink:
    """Stands in for Jaeger's OTLP/HTTP receiver: answers 200 to every POST, counts them."""

    def __init__(self) -> None:
        sink = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                sink.requests += 1
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Kafka's kafka-topics.sh as create-topics.sh calls it: `--list` answers once the broker
# takes connections; every `--create` is written down, one line of arguments each, and
# made afterwards by one Kafka admin client (a Python start per topic costs a second).
_KAFKA_TOPICS_SHIM = """#!/usr/bin/env bash
set -euo pipefail
if [[ " $* " == *" --list "* ]]; then
  bootstrap="${2:?}"
  exec 3<>"/dev/tcp/${bootstrap%:*}/${bootstrap##*:}"
  exit 0
fi
printf '%s\\0' "$@" >>"${KAFKA_BIN}/created"
printf '\\n' >>"${KAFKA_BIN}/created"
"""


async def _apply_topic_calls(calls: list[list[str]]) -> None:
    """Each ``kafka-topics.sh --create`` call of ``calls`` (its arguments), through one
    admin client: ``--topic``, ``--partitions``, ``--replication-factor``, ``--config``."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    def value(args: list[str], flag: str) -> str:
        return args[args.index(flag) + 1]

    admin = AIOKafkaAdminClient(bootstrap_servers=value(calls[0], "--bootstrap-server"))
    await admin.start()
    try:
        for args in calls:
            assert "--create" in args, args
            configs = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--config")
            topic = NewTopic(
                value(args, "--topic"),
                int(value(args, "--partitions")),
                int(value(args, "--replication-factor")),
                topic_configs=configs,
            )
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                if "--if-not-exists" not in args:
                    raise
    finally:
        await admin.close()


def _wait_healthy(processes: list[ServiceProcess], *, timeout: float) -> None:
    """Until every one of ``processes`` answers ``/healthz`` (one client polls them all:
    a client per poll costs a TLS context each, which a loaded machine feels)."""
    waiting = list(processes)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while waiting:
            for process in list(waiting):
                if process._process is not None and process._process.poll() is not None:
                    raise RuntimeError(f"{process.module} exited:\n{process.output()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(process.base_url + "/healthz").status_code == 200:
                        waiting.remove(process)
            if time.monotonic() > deadline:
                names = [p.log_path.name for p in waiting]
                raise TimeoutError(f"not healthy after {timeout}s: {names}")
            time.sleep(0.2)


class DistributedStack:
    """The deploy files' layout on this machine (see the module's docstring).

    ``postgres``: a cluster of this machine (the tests' session cluster) whose
    superuser runs ``deploy/postgres/initdb`` as the postgres image would;
    ``kafka_bootstrap``: the broker; ``dotenv``: lines that win over
    ``compose.env.example`` and the generated secrets (as an operator's own).
    """

    def __init__(
        self,
        var_dir: Path,
        *,
        postgres: PostgresCluster,
        kafka_bootstrap: str,
        replicas: Mapping[str, int] | None = None,
        dotenv: Mapping[str, str] | None = None,
    ) -> None:
        if NGINX is None:
            raise FileNotFoundError("nginx is not installed (apt-get install nginx-light)")
        self.var_dir = var_dir
        self.postgres = postgres
        self.kafka_bootstrap = kafka_bootstrap
        self.replicas = {**DEFAULT_REPLICAS, **(replicas or {})}
        self.user_dotenv = dict(dotenv or {})
        self.dotenv: dict[str, str] = {}
        self.secret_names: list[str] = []
        """The ``.env`` names whose values this layout generated as secrets."""
        self.gateway_port = free_port()
        self.ports: dict[str, list[int]] = {}
        self.processes: dict[str, list[ServiceProcess]] = {}
        self.trace_sink: _TraceSink | None = None
        self._gateway: NginxGateway | None = None

    # ------------------------------------------------------------------ where things are
    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def sandbox(self) -> str:
        return f"http://127.0.0.1:{self.ports['sandbox'][0]}"

    def service_url(self, name: str, replica: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports[name][replica]}"

    def logs(self) -> dict[str, str]:
        """Every log this layout wrote, whole, by file name: each replica's output
        (``queue-2.log``) and the gateway's access and error logs."""
        found = {path.name: path.read_text(errors="replace") for path in self.var_dir.glob("*.log")}
        if self._gateway is not None:
            for path in (self._gateway.access_log, self._gateway.error_log):
                if path.exists():
                    found[f"gateway {path.name}"] = path.read_text(errors="replace")
        return found

    def own_secrets(self) -> list[str]:
        """The deployment's own secrets this layout generated into ``.env`` (database
        passwords, service secrets, session secret, token keys, grant signing key, bot
        token), each whole and, for a ``<id>:<secret>`` value, its secret part."""
        return with_secret_parts(self.dotenv[name] for name in self.secret_names)

    def output(self) -> str:
        """Every process's log, each under its name (for a failed test's message)."""
        parts = []
        for name, replicas in self.processes.items():
            for n, process in enumerate(replicas):
                parts.append(f"==== {name}-{n + 1}\n{process.output()[-3000:]}")
        if self._gateway is not None and self._gateway.error_log.exists():
            parts.append(f"==== gateway\n{self._gateway.error_log.read_text()[-3000:]}")
        return "\n".join(parts)

    # ------------------------------------------------------------------ start and stop
    def start(self, timeout: float = 300.0) -> DistributedStack:
        """Databases, topics, every replica, then nginx; ``BrokerInUse`` (before anything
        starts) when the broker serves another stack (:func:`cachalot_testing.broker.claim`)."""
        claim(self.kafka_bootstrap, str(self.var_dir))
        try:
            self.var_dir.mkdir(parents=True, exist_ok=True)
            services = compose_services()
            for name in services:
                self.ports[name] = [free_port() for _ in range(self.replicas.get(name, 1))]
            self.dotenv = self._write_dotenv()
            self.trace_sink = _TraceSink()
            self._create_databases()
            self._create_topics()
            for name in services:
                self.processes[name] = [
                    self._process(name, n) for n in range(len(self.ports[name]))
                ]
            # compose starts every service at once (none waits for another); the
            # replicas after the first once it has migrated its database (two
            # replicas racing on the first migration: deploy/README.md)
            for wave in (0, 1):
                started = [
                    r[wave].start(wait=False) for r in self.processes.values() if len(r) > wave
                ]
                _wait_healthy(started, timeout=timeout)
            self._start_gateway()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 20.0) -> None:
        for replicas in self.processes.values():
            for process in replicas:
                with contextlib.suppress(Exception):
                    process.stop(timeout=timeout)
        if self._gateway is not None:
            self._gateway.stop(timeout=timeout)
            self._gateway = None
        if self.trace_sink is not None:
            self.trace_sink.stop()
            self.trace_sink = None
        release(self.kafka_bootstrap, str(self.var_dir))

    def kill(self, name: str, replica: int = 0) -> int:
        """``kill -9`` of replica ``replica`` of ``name``; returns its process id."""
        process = self.processes[name][replica]
        pid = process.pid
        assert pid is not None, f"{name}-{replica + 1} is not running"
        os.kill(pid, signal.SIGKILL)
        process.kill()  # reaps it
        return pid

    def restart(self, name: str, replica: int = 0, timeout: float = 60.0) -> None:
        """Start replica ``replica`` of ``name`` again (compose's ``restart: unless-stopped``)."""
        process = self.processes[name][replica]
        if process.pid is not None:
            process.stop()
        process.start(timeout=timeout)

    # ------------------------------------------------------------------ the deploy steps
    def _write_dotenv(self) -> dict[str, str]:
        """``.env`` as the operator makes it from compose.env.example for a sandbox trial."""
        from cachalot_common.grants import generate_signing_key

        values = read_env_example()
        for name, value in list(values.items()):
            if value == "" and (
                name.endswith(("_PASSWORD", "_SERVICE_SECRET")) or name == "CACHALOT_SESSION_SECRET"
            ):
                values[name] = secrets.token_hex(32)
                self.secret_names.append(name)
        self.secret_names += [
            "CACHALOT_TOKEN_KEYS",
            "CACHALOT_GRANT_SIGNING_KEY",
            "CACHALOT_TELEGRAM_BOT_TOKEN",
        ]
        key = generate_signing_key("distributed-test")
        values.update(
            {
                "CACHALOT_TOKEN_KEYS": "v1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
                "CACHALOT_GRANT_SIGNING_KEY": key.setting(),
                "CACHALOT_GRANT_PUBLIC_KEYS": key.public_setting(),
                # "any well-formed values" for a trial (compose.env.example)
                "CACHALOT_TELEGRAM_BOT_TOKEN": f"{secrets.randbelow(9 * 10**8) + 10**8}:"
                + secrets.token_urlsafe(26)[:35],
                "CACHALOT_OPERATOR_CHAT_ID": "100200300",
                "CACHALOT_COOKIE_SECURE": "false",  # plain http on this machine
                "CACHALOT_PUBLIC_URL": self.gateway,
                "GATEWAY_IP": "127.0.0.1",
                "CACHALOT_KAFKA_BOOTSTRAP": self.kafka_bootstrap,
            }
        )
        values.update(self.user_dotenv)
        path = self.var_dir / ".env"
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
        return values

    def _create_databases(self) -> None:
        """``deploy/postgres/initdb/*.sh`` run by the cluster's superuser, as the postgres
        image runs them on an empty data directory; then each role must give its password
        (``scram-sha-256`` in ``pg_hba.conf`` ahead of the cluster's ``trust``)."""
        env = {
            **os.environ,
            **self.dotenv,
            "POSTGRES_USER": self.postgres.superuser,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.postgres.port),
            "PATH": f"{Path(_bin('psql')).parent}:{os.environ.get('PATH', '')}",
        }
        roles = []
        for script in sorted(INITDB_DIR.glob("*.sh")):
            result = subprocess.run(
                ["bash", str(script)], env=env, capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise RuntimeError(f"{script.name} failed: {result.stderr[-2000:]}")
            roles += re.findall(r"database and role (\w+)", result.stdout)
        assert roles, "the initdb scripts made no database"
        hba = self.postgres.data / "pg_hba.conf"
        lines = "".join(f"host {r} {r} 127.0.0.1/32 scram-sha-256\n" for r in roles)
        text = hba.read_text()
        if lines not in text:
            mode = hba.stat()
            hba.write_text(lines + text)
            os.chown(hba, mode.st_uid, mode.st_gid)
        subprocess.run(
            [
                *(_bin("psql"), "-h", "127.0.0.1", "-p", str(self.postgres.port)),
                *("-U", self.postgres.superuser, "-d", "postgres", "-c", "SELECT pg_reload_conf()"),
            ],
            check=True,
            capture_output=True,
        )

    def _create_topics(self) -> None:
        """``deploy/kafka/create-topics.sh`` with ``KAFKA_BIN`` a stand-in for Kafka's CLI."""
        bin_dir = self.var_dir / "kafka-bin"
        bin_dir.mkdir(exist_ok=True)
        shim = bin_dir / "kafka-topics.sh"
        shim.write_text(_KAFKA_TOPICS_SHIM)
        shim.chmod(shim.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        compose = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["kafka-init"]
        env = {
            **os.environ,
            **{k: interpolate(str(v), self.dotenv) for k, v in compose["environment"].items()},
            "KAFKA_BIN": str(bin_dir),
        }
        result = subprocess.run(
            ["bash", str(CREATE_TOPICS)], env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"create-topics.sh failed: {result.stderr[-2000:]}")
        calls = [
            line.split("\0")[:-1] for line in (bin_dir / "created").read_text().splitlines() if line
        ]
        run_coroutine(_apply_topic_calls(calls))

    def _hosts(self, replica: int) -> dict[str, str]:
        """compose's ``name:port`` → this machine; a service reaches the same-numbered
        replica of another when there is one (Docker's DNS would pick any)."""
        spec = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
        hosts = {
            "postgres:5432": f"127.0.0.1:{self.postgres.port}",
            "jaeger:4318": f"127.0.0.1:{self.trace_sink.port if self.trace_sink else 9}",
        }
        for name, ports in self.ports.items():
            container_port = spec[name]["environment"]["CACHALOT_HTTP_PORT"]
            hosts[f"{name}:{container_port}"] = f"127.0.0.1:{ports[min(replica, len(ports) - 1)]}"
        return hosts

    def _process(self, name: str, replica: int) -> ServiceProcess:
        mounts = {}
        for target, volume in compose_volumes(name).items():
            mounts[target] = self.var_dir / volume
            mounts[target].mkdir(exist_ok=True)
        env = localize(
            compose_environment(name, self.dotenv),
            hosts=self._hosts(replica),
            mounts=mounts,
            port=self.ports[name][replica],
        )
        process = ServiceProcess(
            _module(name),
            env={},
            log_path=self.var_dir / f"{name}-{replica + 1}.log",
            port=self.ports[name][replica],
        )
        base = {k: v for k, v in os.environ.items() if not k.startswith("CACHALOT_")}
        process.env = {**base, **env, "PYTHONUNBUFFERED": "1"}
        return process

    def upstreams(self) -> str:
        """``deploy/gateway/upstreams.conf`` for this machine: Docker's resolver dropped,
        each service an ``upstream`` of its replicas' addresses (nginx tries the next
        when one refuses the connection, as it would among a name's addresses)."""
        text = UPSTREAMS_CONF.read_text()
        text, resolvers = re.subn(r"^\s*resolver(?:_timeout)? [^;]+;\n", "", text, flags=re.M)
        assert resolvers, "upstreams.conf changed: no resolver line"
        groups: list[str] = []

        def entry(match: re.Match[str]) -> str:
            name = match[2]
            servers = " ".join(f"server 127.0.0.1:{p};" for p in self.ports[name])
            groups.append(f"upstream {name} {{ {servers} }}\n")
            return f"{match[1]}{name} {name};"

        text, count = re.subn(r"^(\s*)([\w-]+) \2:\d+;$", entry, text, flags=re.M)
        assert count, "upstreams.conf changed: no `name name:port;` map entry"
        return text + "".join(groups)

    def _start_gateway(self, timeout: float = 15.0) -> None:
        self._gateway = NginxGateway(self.upstreams(), port=self.gateway_port).start(timeout)

    def pids(self) -> dict[str, list[int | None]]:
        """Each service's replicas' process ids (``None`` for one not running)."""
        return {name: [p.pid for p in replicas] for name, replicas in self.processes.items()}
