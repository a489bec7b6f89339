"""``make dev`` runs a publisher for every platform posts may target, aimed at the sandbox.

The embedded stack's services are a hand-kept list (``cachalot_embedded.stack.SERVICES``);
a platform added to the registry (``cachalot_common.platforms``) without its publisher
there would take posts that nothing ever reads from its topic.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from cachalot_common import platforms
from cachalot_embedded.stack import (
    SANDBOX,
    SERVICES,
    base_environment,
    load_dev_secrets,
    process_environment,
)

SANDBOX_URL = "http://127.0.0.1:8090"
PUBLISHABLE = [spec.name for spec in platforms.publishable()]


def publisher_environment(name: str, var_dir: Path) -> dict[str, str]:
    secrets = load_dev_secrets(var_dir)
    base = base_environment(
        var_dir=var_dir,
        kafka_bootstrap="127.0.0.1:1",
        idempotence=False,
        gateway_url="http://127.0.0.1:8000",
        sandbox_url=SANDBOX_URL,
        auth_url="http://127.0.0.1:8103",
        queue_url="http://127.0.0.1:8104",
        dev_secrets=secrets,
    )
    spec = next(s for s in SERVICES if s.name == f"publisher-{name}")
    return process_environment(
        spec, port=spec.port, base=base, user={}, var_dir=var_dir, dev_secrets=secrets
    )


@pytest.mark.parametrize("name", PUBLISHABLE)
def test_every_platform_posts_may_target_has_its_publisher_in_the_embedded_stack(
    name: str,
) -> None:
    specs = {spec.name: spec for spec in SERVICES}
    spec = specs.get(f"publisher-{name}")
    assert spec is not None, f"add publisher-{name} to cachalot_embedded.stack.SERVICES"
    assert spec.module == f"cachalot_publisher_{name}"
    assert spec.database  # its own record of what went up
    assert spec.service_identity  # auth's leases
    assert spec.available(), f"{spec.module} is not installed (a workspace member?)"


def test_no_two_embedded_services_share_a_port() -> None:
    ports = [spec.port for spec in (*SERVICES, SANDBOX)]
    assert len(ports) == len(set(ports))


@pytest.mark.parametrize("name", PUBLISHABLE)
def test_each_publisher_calls_its_platform_through_the_sandbox(name: str, tmp_path: Path) -> None:
    env = publisher_environment(name, tmp_path)
    declared = importlib.import_module(f"cachalot_publisher_{name}.main").PUBLISHER
    hosts = [field for field in declared.settings.model_fields if field.endswith("_api_base")]
    assert hosts, f"publisher-{name}'s settings name no <platform>_api_base"
    for field in hosts:
        value = env.get(f"CACHALOT_{field.upper()}", "")
        assert value.startswith(SANDBOX_URL), f"CACHALOT_{field.upper()} is {value!r}"
