"""``make dev`` runs a publisher for every platform posts may target, aimed at the sandbox.

The embedded stack's services are a hand-kept list (``cachalot_embedded.stack.SERVICES``);
a platform added to the registry (``cachalot_common.platforms``) without its publisher
there would take posts that nothing ever reads from its topic.
"""

from __future__ import annotations

import importlib

import pytest

from cachalot_common import platforms
from cachalot_embedded.stack import SANDBOX, SERVICES

PUBLISHABLE = [spec.name for spec in platforms.publishable()]


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
def test_each_publisher_calls_its_platform_through_the_sandbox(
    name: str, stack_environments: dict[str, dict[str, str]]
) -> None:
    env = stack_environments[f"publisher-{name}"]
    sandbox = env["CACHALOT_SANDBOX_PUBLIC_URL"]
    declared = importlib.import_module(f"cachalot_publisher_{name}.main").PUBLISHER
    hosts = [field for field in declared.settings.model_fields if field.endswith("_api_base")]
    assert hosts, f"publisher-{name}'s settings name no <platform>_api_base"
    for field in hosts:
        value = env.get(f"CACHALOT_{field.upper()}", "")
        assert value.startswith(sandbox), f"CACHALOT_{field.upper()} is {value!r}"
