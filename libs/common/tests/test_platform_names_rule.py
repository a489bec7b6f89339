"""The rule that keeps the registry the one place platforms are told apart (STYLE.md).

Outside :mod:`cachalot_common.platforms`, no service compares a value to a
platform name written as a string literal (``if platform == "tiktok"``,
``platform in ("tiktok", "youtube")``, ``case "vk":``) or keeps its own table
of platform names (a literal naming two or more platforms): it asks the
registry instead. Code that exists for one platform alone is exempt: the
publisher packages, auth's per-platform OAuth providers, the sandbox (which
plays the platforms), and the few functions listed in ``ALLOWED`` with why.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from cachalot_common.topics import PLATFORMS

ROOT = Path(__file__).resolve().parents[3]
NAMES = frozenset(PLATFORMS)

SCANNED = ("services/*/src/**/*.py", "libs/*/src/**/*.py", "embedded/src/**/*.py")
EXEMPT_DIRS = (
    "libs/common/",  # the registry itself, and the wire contract's Literal
    "libs/testing/",  # fixtures that play a given platform
    "services/sandbox/",  # fakes of the platforms
    "services/publisher-",  # one package per platform
    "services/auth/src/cachalot_auth/providers/",  # one OAuth client per platform
)
ALLOWED = {
    # linking a channel for our bot to post to is a Telegram feature, not a platform branch
    ("services/auth/src/cachalot_auth/clients.py", "link_telegram_channel"),
    # creator_info is a TikTok endpoint its Direct Post rules require, read for TikTok accounts only
    ("services/auth/src/cachalot_auth/creator_info.py", "read"),
}


def _platform_literals(node: ast.AST) -> list[str]:
    """Platform names written as literals in ``node`` or directly in a literal collection."""
    if isinstance(node, ast.Constant) and node.value in NAMES:
        return [node.value]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in NAMES]
    return []


def violations(source: str) -> Iterator[tuple[int, str, str]]:
    """``(line, enclosing function or "", what)`` for each platform-name branch or table."""
    tree = ast.parse(source)
    owners: dict[ast.AST, str] = {}  # node → its innermost function (walk goes outside in)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            owners.update((inner, node.name) for inner in ast.walk(node))
    for node in ast.walk(tree):
        owner = owners.get(node, "")
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):
                for name in _platform_literals(side):
                    yield node.lineno, owner, f"compares to the platform name {name!r}"
        elif isinstance(node, ast.MatchValue):
            for name in _platform_literals(node.value):
                yield node.lineno, owner, f"matches the platform name {name!r}"
        elif isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
            elements = node.keys if isinstance(node, ast.Dict) else node.elts
            named = {e.value for e in elements if isinstance(e, ast.Constant) and e.value in NAMES}
            if len(named) >= 2:
                yield node.lineno, owner, f"a table of platform names {sorted(named)}"


def scanned_files() -> list[Path]:
    found: set[Path] = set()
    for pattern in SCANNED:
        found.update(ROOT.glob(pattern))
    return sorted(p for p in found if not p.relative_to(ROOT).as_posix().startswith(EXEMPT_DIRS))


def test_the_scan_sees_the_services_it_guards() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in scanned_files()}
    assert "services/queue/src/cachalot_queue/posts.py" in files
    assert "services/auth/src/cachalot_auth/signin.py" in files
    assert "services/notifier/src/cachalot_notifier/messages.py" in files
    assert not any(f.startswith(("services/publisher-", "services/sandbox/")) for f in files)


def test_the_scan_catches_each_way_of_branching_on_a_platform_name() -> None:
    source = """
def route(platform, other):
    if platform == "tiktok":
        pass
    if "youtube" != other or platform in ("vk", "x"):
        pass
    match platform:
        case "telegram":
            pass
NAMES = {"tiktok": "TikTok", "youtube": "YouTube"}
ONE = ("instagram",)
"""
    found = sorted((line, what) for line, _, what in violations(source))
    assert found == [
        (3, "compares to the platform name 'tiktok'"),
        (5, "compares to the platform name 'vk'"),
        (5, "compares to the platform name 'youtube'"),
        (8, "matches the platform name 'telegram'"),
        (10, "a table of platform names ['tiktok', 'youtube']"),
    ]


def test_no_service_branches_on_a_platform_name_or_keeps_a_table_of_them() -> None:
    found = []
    for path in scanned_files():
        where = path.relative_to(ROOT).as_posix()
        for line, owner, what in violations(path.read_text(encoding="utf-8")):
            if (where, owner) not in ALLOWED:
                found.append(f"{where}:{line}: {what}")
    assert not found, (
        "ask the platform registry (cachalot_common.platforms) instead:\n" + "\n".join(found)
    )
