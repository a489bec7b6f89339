"""A stack that does not come up in time says which services are not up and where their
logs are; the fault suite's limit is a flag (issue 11: ``bench/chaos.py`` stopped with a
bare "embedded stack not up after 180s" at load 40)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cachalot_testing.chaos import START_TIMEOUT_S
from cachalot_testing.stack import EmbeddedStack

BENCH = Path(__file__).resolve().parents[3] / "bench" / "chaos.py"


def test_a_stack_not_up_in_time_names_the_services_not_up_and_where_their_logs_are(
    tmp_path: Path, hanging_auth_stack: EmbeddedStack
) -> None:
    with pytest.raises(TimeoutError) as raised:
        hanging_auth_stack.start(timeout=20)
    said = str(raised.value).split("\n", 1)[0]
    assert "auth (no healthy /healthz)" in said or "auth (not running)" in said
    assert "queue" not in said  # only the services this stack runs
    assert str(hanging_auth_stack.log_path) in said
    assert str(tmp_path / "stack" / "access-logs") in said


def test_the_fault_suite_takes_its_start_limit_as_a_flag_with_a_generous_default() -> None:
    spec = importlib.util.spec_from_file_location("bench_chaos", BENCH)
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench._parse([]).start_timeout == START_TIMEOUT_S >= 600
    assert bench._parse(["--start-timeout", "900"]).start_timeout == 900
