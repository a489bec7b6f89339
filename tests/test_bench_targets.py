"""``make bench`` runs each benchmark for every platform it can drive (issue 10): the upload
bench's ``PLATFORMS`` and the pipeline bench's ``OPTIONS``, read from the bench files as
written (``ast``: no import, so no stack, video or broker is made)."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_commands() -> list[list[str]]:
    """The ``bench`` target's recipe lines of the Makefile, split as the shell would."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("bench:"))
    recipe: list[list[str]] = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(shlex.split(line.strip().lstrip("@")))
    return recipe


def dict_keys(path: Path, name: str) -> set[str]:
    """The string keys of the module-level dict assigned to ``name`` in ``path``."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id == name and isinstance(value, ast.Dict):
            return {
                k.value
                for k in value.keys
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            }
    raise AssertionError(f"{path.name} has no {name}")


def runs_of(script: str) -> list[list[str]]:
    return [c for c in bench_commands() if any(a.endswith(f"bench/{script}") for a in c)]


def test_make_bench_measures_the_upload_of_every_platform_the_upload_bench_drives() -> None:
    drives = dict_keys(ROOT / "bench" / "upload_memory.py", "PLATFORMS")
    run = {c[c.index("--platform") + 1] for c in runs_of("upload_memory.py")}
    assert run == drives


def test_make_bench_runs_the_pipeline_over_every_platform_the_pipeline_bench_drives() -> None:
    drives = dict_keys(ROOT / "bench" / "pipeline.py", "OPTIONS")
    run: set[str] = set()
    for command in runs_of("pipeline.py"):
        chosen = command[command.index("--platforms") + 1] if "--platforms" in command else "tiktok"
        run |= set(re.split(r"\s*,\s*", chosen))
    assert run == drives


def test_the_upload_bench_leases_from_the_shared_stand_in_for_auth() -> None:
    """fresh10c: the bench's own copy of auth's lease endpoint had no
    ``/internal/v1/leases/confirm`` and every platform failed "lease refused"; it uses
    :class:`cachalot_testing.publisher.LeaseStandIn`, which the publishers' tests keep true."""
    tree = ast.parse((ROOT / "bench" / "upload_memory.py").read_text())
    imported = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert ("cachalot_testing.publisher", "LeaseStandIn") in imported
    assert not (ROOT / "bench" / "lease_stub.py").exists()
