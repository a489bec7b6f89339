"""Fixtures for the whole-system tiers: the system in each layout and a real browser.

``stack`` is the embedded stack (``make dev``). A test marked
``@pytest.mark.layouts("embedded", "distributed")`` runs once in each layout
named: ``distributed`` is the deploy files' layout on this machine
(:class:`cachalot_testing.distributed.DistributedStack`: a database and role
per service, nginx with the gateway's configuration, two replicas of the queue
and of each publisher). Each layout is started once per test session, when a
test first needs it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cachalot_testing.broker import TansuBroker
from cachalot_testing.distributed import DistributedStack
from cachalot_testing.postgres import PostgresCluster
from cachalot_testing.stack import EmbeddedStack

LAYOUTS = ("embedded", "distributed")
EMBEDDED_START_S = 240.0
"""The embedded stack starts in 70–85 s on a loaded 2-core machine (fix11b): its own budget,
apart from any test's."""
DISTRIBUTED_TIMEOUT_S = 600


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "layouts(*names): run the test in each layout named (embedded, distributed)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("layouts")
    if marker is not None and "stack" in metafunc.fixturenames:
        unknown = set(marker.args) - set(LAYOUTS)
        assert not unknown, f"unknown layouts {unknown}"
        metafunc.parametrize("stack", marker.args, indirect=True, scope="module")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test in the distributed layout may be the one that starts it: sixteen Python
    processes, a few minutes on a loaded two-core machine."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        in_layout = callspec is not None and callspec.params.get("stack") == "distributed"
        if in_layout or "distributed_stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(DISTRIBUTED_TIMEOUT_S))


@pytest.fixture(scope="session")
def embedded_stack(
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
    ).start(timeout=EMBEDDED_START_S)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def distributed_tansu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """The distributed layout's own broker: its tests stop it, which must not touch the
    embedded stack (whose consumer groups would also share it)."""
    broker = TansuBroker(log_path=tmp_path_factory.mktemp("dist-tansu") / "tansu.log").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def distributed_stack(
    tmp_path_factory: pytest.TempPathFactory, distributed_tansu: TansuBroker, postgres: Any
) -> Iterator[DistributedStack]:
    """The deploy files' layout (docker-compose.yml, deploy/) without Docker."""
    if not isinstance(postgres, PostgresCluster):
        pytest.skip("the distributed layout runs on this machine's PostgreSQL cluster")
    running = DistributedStack(
        tmp_path_factory.mktemp("distributed-var"),
        postgres=postgres,
        kafka_bootstrap=distributed_tansu.bootstrap,
        # an operator's own .env lines; all requests come from 127.0.0.1 (see above)
        dotenv={"CACHALOT_CONTACT_RATE_LIMITS": "10000/minute"},
    ).start(timeout=DISTRIBUTED_TIMEOUT_S / 2)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def stack(request: pytest.FixtureRequest) -> Any:
    """The system in the layout this test runs in (embedded unless parametrized)."""
    layout = getattr(request, "param", "embedded")
    return request.getfixturevalue(f"{layout}_stack")
