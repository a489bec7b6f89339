"""Nothing of an embedded stack outlives ``EmbeddedStack.stop()``.

The supervisor starts its children in sessions of their own. A stack whose start
timed out was stopped while the supervisor still waited (up to a minute per child)
for a child to become healthy: it took the SIGTERM only once up, was SIGKILLed 30 s
later, and every child it had started ran on with parent 1 (issue 9, perf9b).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cachalot_testing.stack import EmbeddedStack


def _processes_naming(text: str) -> list[int]:
    """Live processes whose command line or environment contains ``text``."""
    found: list[int] = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if stat[0] != "Z" and text.encode() in seen:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_stack_stopped_while_a_child_never_becomes_healthy_leaves_no_process_behind(
    tmp_path: Path, hanging_auth_stack: EmbeddedStack
) -> None:
    stack = hanging_auth_stack
    var_dir = tmp_path / "stack"
    with ThreadPoolExecutor(1) as pool:
        starting = pool.submit(stack.start, timeout=20)
        seen: dict[str, int] = {}
        while not {"sandbox", "auth", "kafka"} <= seen.keys() and not starting.done():
            seen |= stack.processes()
            time.sleep(0.05)
        assert {"sandbox", "auth", "kafka"} <= seen.keys()  # the children were running
        with pytest.raises(TimeoutError):
            starting.result()
    started = time.monotonic()
    stack.stop()  # start() stopped it already; a second stop changes nothing
    assert time.monotonic() - started < 1
    assert _processes_naming(str(var_dir)) == []
    assert [name for name, pid in seen.items() if _alive(pid)] == []
    assert stack.pid is None
