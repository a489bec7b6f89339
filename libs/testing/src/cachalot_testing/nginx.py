"""The gateway's committed ``deploy/gateway/nginx.conf``, run by a real nginx on this machine.

One way to do it for every test that needs the real gateway: the deploy
tests (in front of stand-in services, in each run mode's upstreams) and the
distributed layout (in front of the services' replicas). Only what ties the
file to its image changes: the listen address (a free loopback port), the
pid and temp paths, the access log (a file, not the container's stdout), the
image's copies of ``web/`` and of the OpenAPI document (``deploy/gateway/
Dockerfile``), and the ``include`` of the upstreams file, whose text the
caller gives. Everything else is the committed configuration.

nginx's workers run as ``nobody`` when the tests run as root, so the working
directory is a world-readable one of its own, never under pytest's private
(0700) temporary tree, and holds copies of what they serve.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from cachalot_common.docs import SWAGGER_UI_DIR, SWAGGER_UI_PATH
from cachalot_testing.ports import free_port

ROOT = Path(__file__).resolve().parents[4]
NGINX_CONF = ROOT / "deploy" / "gateway" / "nginx.conf"
OPENAPI_FILE = ROOT / "deploy" / "gateway" / "openapi.json"
OPENAPI_IN_IMAGE = "/usr/share/nginx/cachalot/openapi.json"  # the gateway Dockerfile's COPY
UPSTREAMS_INCLUDE = "include /etc/nginx/cachalot/upstreams.conf;"
NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
)
"""nginx's binary, or None where it is not installed (``apt-get install nginx-light``)."""


class NginxGateway:
    """The committed nginx.conf with ``upstreams`` (the text of the upstreams file the
    image includes) in place of its ``include``, on a free loopback port.

    :meth:`start` returns once ``/healthz`` answers 200 (``RuntimeError`` with
    nginx's error log if it exits or does not within ``timeout`` seconds);
    :meth:`stop` ends it and removes its working directory. ``FileNotFoundError``
    at construction where nginx is not installed.
    """

    def __init__(self, upstreams: str, *, port: int | None = None) -> None:
        if NGINX is None:
            raise FileNotFoundError("nginx is not installed (apt-get install nginx-light)")
        self.upstreams = upstreams
        self.port = port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="cachalot-gateway-"))
        self.workdir.chmod(0o755)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.workdir / "access.log"

    @property
    def error_log(self) -> Path:
        return self.workdir / "error.log"

    def config(self) -> str:
        """nginx.conf as this machine runs it (see the module's docstring)."""
        workdir = self.workdir
        conf = NGINX_CONF.read_text()
        conf = conf.replace("listen 8080;", f"listen 127.0.0.1:{self.port};")
        conf = conf.replace("pid /tmp/nginx.pid;", f"pid {workdir}/nginx.pid;")
        conf = re.sub(r"_temp_path /tmp/", f"_temp_path {workdir}/", conf)
        conf = conf.replace(
            "access_log /dev/stdout cachalot;", f"access_log {self.access_log} cachalot;"
        )
        conf = conf.replace("root /usr/share/nginx/html;", f"root {workdir / 'html'};")
        assert f"alias {OPENAPI_IN_IMAGE};" in conf, "nginx.conf changed: no OpenAPI alias"
        conf = conf.replace(f"alias {OPENAPI_IN_IMAGE};", f"alias {workdir / 'openapi.json'};")
        assert conf.count(UPSTREAMS_INCLUDE) == 1, "nginx.conf changed: no upstreams include"
        conf = conf.replace(UPSTREAMS_INCLUDE, self.upstreams)
        if not Path("/etc/nginx/mime.types").exists():
            conf = conf.replace("include /etc/nginx/mime.types;", "types { text/html html; }")
        return conf

    def start(self, timeout: float = 15.0) -> NginxGateway:
        assert NGINX is not None
        workdir = self.workdir
        # what the gateway image holds (deploy/gateway/Dockerfile), readable by nobody
        shutil.copytree(ROOT / "web", workdir / "html")
        shutil.copytree(SWAGGER_UI_DIR, workdir / "html" / SWAGGER_UI_PATH.lstrip("/"))
        shutil.copy(OPENAPI_FILE, workdir / "openapi.json")
        for path in [workdir / "html", *(workdir / "html").rglob("*"), workdir / "openapi.json"]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        (workdir / "nginx.conf").write_text(self.config())
        with self.error_log.open("w") as stderr:
            self._process = subprocess.Popen(
                [NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx.get(f"{self.base}/healthz", timeout=1).raise_for_status()
                return self
            except httpx.HTTPError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    errors = self.error_log.read_text()
                    self.stop()
                    raise RuntimeError(f"nginx did not start: {errors}") from None
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        """End nginx and remove its working directory."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
