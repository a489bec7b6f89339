"""The embedded supervisor starts a dead child again after about a second, every time, and
says which children did not start in time, with their last lines."""

from __future__ import annotations

import asyncio
import sys
import time

import pytest

from cachalot_common.free_ports import free_port
from cachalot_embedded.main import START_TIMEOUT_S, _parse_args
from cachalot_embedded.supervisor import (
    LAST_LINES,
    RESTART_DELAY_MAX_S,
    Child,
    Supervisor,
    restart_delay_s,
)


def test_the_pause_before_a_dead_child_starts_again_stays_near_a_second() -> None:
    """Issue 11 (fresh11c): the pause doubled with every restart up to 30 s, so after a
    few broker kills the embedded broker stayed away for half a minute."""
    assert restart_delay_s(1) == 1.0
    assert [restart_delay_s(n) for n in range(2, 12)] == [RESTART_DELAY_MAX_S] * 10
    assert RESTART_DELAY_MAX_S <= 2.0


async def test_a_child_that_dies_again_and_again_is_back_within_the_cap_each_time() -> None:
    """A real child, dying at once seven times: six pauses, 11 s in all (61 s before)."""
    supervisor = Supervisor()
    child = Child("dies", [sys.executable, "-c", "raise SystemExit(1)"], env={})
    began = time.monotonic()
    await supervisor.start(child)
    try:
        async with asyncio.timeout(30):
            while child.restarts < 7:
                await asyncio.sleep(0.05)
    finally:
        await supervisor.stop_all(grace=2.0)
    assert time.monotonic() - began < 1 + 5 * RESTART_DELAY_MAX_S + 10  # 10 s for 7 starts


async def test_children_not_healthy_in_time_are_named_with_their_last_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 10 (fresh-user try): after a fixed 60 s ``cachalot-dev`` said only "sandbox did
    not become healthy", with no hint why; a start took 3.5 minutes at a load of 40."""
    supervisor = Supervisor()
    script = "import time\nfor i in range(30): print('line', i, flush=True)\ntime.sleep(60)"
    stuck = Child(
        "stuck",
        [sys.executable, "-c", script],
        env={},
        health_url=f"http://127.0.0.1:{free_port()}/healthz",  # nothing listens there
    )
    fine = Child("fine", [sys.executable, "-c", "import time; time.sleep(60)"], env={})
    await supervisor.start(stuck)
    await supervisor.start(fine)
    try:
        async with asyncio.timeout(30):
            while "line 29" not in stuck.last_lines:
                await asyncio.sleep(0.05)
        began = time.monotonic()
        unhealthy = await supervisor.wait_all_healthy(timeout=1.0)
        waited = time.monotonic() - began
        supervisor.say_unhealthy(unhealthy, 1.0, "give them longer")
    finally:
        await supervisor.stop_all(grace=2.0)
    assert unhealthy == [stuck]
    assert 1.0 <= waited < 10
    said = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(said) if "not healthy after 1 s: stuck;" in line)
    assert "give them longer" in said[at]
    assert said[at + 1].endswith(f"-- running, its last {LAST_LINES} lines:")
    shown = [line.split("| ", 1)[1] for line in said[at + 2 : at + 2 + LAST_LINES]]
    assert shown == [f"line {i}" for i in range(30 - LAST_LINES, 30)]


def test_the_start_timeout_is_a_flag_and_a_setting_generous_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CACHALOT_DEV_START_TIMEOUT_S", raising=False)
    assert _parse_args([]).start_timeout == START_TIMEOUT_S >= 180
    monkeypatch.setenv("CACHALOT_DEV_START_TIMEOUT_S", "300")
    assert _parse_args([]).start_timeout == 300
    assert _parse_args(["--start-timeout", "45"]).start_timeout == 45
