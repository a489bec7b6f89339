"""Every wait a publisher raises is declared a wait in the platform registry (issue 10): the
queue reads the registry to let a wait use no attempt, so a code a publisher raises with
``outcome.wait`` but the registry does not know would fail posts the platform only delayed
(Instagram's ``publishing_quota_used`` did, before it was declared). Read from the sources as
written (``ast``), so no publisher or stack is started."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cachalot_common import platforms
from cachalot_publishing import outcome

ROOT = Path(__file__).resolve().parents[1]


def constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                    found[target.id] = node.value.value
    return found


def code_of(arg: ast.expr, local: dict[str, str]) -> str:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.Name) and arg.id in local:
        return local[arg.id]
    if isinstance(arg, ast.Attribute) and ast.unparse(arg.value) == "outcome":
        return str(getattr(outcome, arg.attr))
    raise AssertionError(f"cannot read the code of {ast.unparse(arg)}")


def raised_waits() -> list[tuple[str, str, str]]:
    """(platform, code, where) of every ``outcome.wait(...)`` and ``outcome.rate_limited(...)``
    call in each ``services/publisher-<platform>`` package."""
    waits: list[tuple[str, str, str]] = []
    for package in sorted((ROOT / "services").glob("publisher-*")):
        platform = package.name.removeprefix("publisher-")
        for path in sorted((package / "src").rglob("*.py")):
            tree = ast.parse(path.read_text())
            local = constants(tree)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                if node.func.attr == "wait" and ast.unparse(node.func.value) == "outcome":
                    waits.append((platform, code_of(node.args[0], local), where))
                elif node.func.attr == "rate_limited" and ast.unparse(node.func.value) == "outcome":
                    waits.append((platform, outcome.RATE_LIMITED, where))
    return waits


WAITS = raised_waits()


def test_the_publishers_raise_waits_at_all() -> None:
    assert {platform for platform, _, _ in WAITS} >= {"instagram", "youtube", "vk", "tiktok"}
    assert ("instagram", "publishing_quota_used") in {(p, c) for p, c, _ in WAITS}


@pytest.mark.parametrize(("platform", "code", "where"), WAITS, ids=[w for _, _, w in WAITS])
def test_every_wait_a_publisher_raises_is_a_wait_of_its_platform_in_the_registry(
    platform: str, code: str, where: str
) -> None:
    assert platforms.is_wait(platform, code), f"{where}: add {code!r} to the spec's waits"
    assert (platform, code) in platforms.wait_codes()
