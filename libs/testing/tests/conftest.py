"""Fixtures shared by the stack tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cachalot_testing.stack import EmbeddedStack


@pytest.fixture
def hanging_auth_stack(tmp_path: Path) -> Iterator[EmbeddedStack]:
    """An embedded stack of auth alone (at ``tmp_path / "stack"``) whose database accepts
    connections and never answers: auth hangs in its start, alive and never healthy, as a
    child does on a loaded machine. Stopped (and the silent socket closed) afterwards."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    stack = EmbeddedStack(
        tmp_path / "stack",
        services=("auth",),
        env={"CACHALOT_AUTH_DATABASE_URL": f"postgresql+asyncpg://u:p@127.0.0.1:{port}/auth"},
    )
    try:
        yield stack
    finally:
        stack.stop()
        silent.close()
