"""Fixtures of the embedded runner's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from cachalot_embedded.stack import (
    SERVICES,
    base_environment,
    load_dev_secrets,
    process_environment,
)


@pytest.fixture
def stack_environments(tmp_path: Path) -> dict[str, dict[str, str]]:
    """Each service's process environment as ``make dev`` gives it (its dev secrets made
    in ``tmp_path``; the sandbox at ``http://127.0.0.1:8090``), by service name."""
    secrets = load_dev_secrets(tmp_path)
    base = base_environment(
        var_dir=tmp_path,
        kafka_bootstrap="127.0.0.1:1",
        idempotence=False,
        gateway_url="http://127.0.0.1:8000",
        sandbox_url="http://127.0.0.1:8090",
        auth_url="http://127.0.0.1:8103",
        queue_url="http://127.0.0.1:8104",
        dev_secrets=secrets,
    )
    return {
        spec.name: process_environment(
            spec, port=spec.port, base=base, user={}, var_dir=tmp_path, dev_secrets=secrets
        )
        for spec in SERVICES
    }
