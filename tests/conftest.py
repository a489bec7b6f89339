"""Fixtures for the whole-system tiers: the embedded stack and a real browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cachalot_testing.stack import EmbeddedStack


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[EmbeddedStack]:
    """Every service, the sandbox and the gateway, as `make dev` runs them.

    The broker is the session's Tansu (so tests can inspect topics); each
    test session gets its own var/ directory and free ports.
    """
    var_dir: Path = tmp_path_factory.mktemp("embedded-var")
    running = EmbeddedStack(
        var_dir,
        kafka_bootstrap=kafka_bootstrap,
        # every test request comes from 127.0.0.1 (the gateway fuzz alone signs in
        # hundreds of times); the limits themselves are tested in contact's and auth's suites
        env={
            "CACHALOT_CONTACT_RATE_LIMITS": "10000/minute",
            "CACHALOT_AUTH_RATE_LIMIT": "10000/minute",
        },
    ).start()
    yield running
    running.stop()
