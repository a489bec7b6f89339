"""No source slices text a person reads by position (issue 11, item 3): every place that
shortens a message, a failure reason, a preview or a stored field goes through
``cachalot_common.text`` (``truncate``/``prefix``), which cuts between extended grapheme
clusters (UAX #29), so a keycap, a flag or a ZWJ family is never split.

The check reads every module of ``services/*/src``, ``libs/*/src`` and ``embedded/src``
(``ast``, no import)
and finds the head slices ``x[:N]`` whose end is a number or a name (``x[:300]``,
``x[:LIMIT]``, ``x[:self.limit]``). Slices of ids, hashes and hex (``.hex``, ``hexdigest()``,
``digest()``, ``token_urlsafe``) are fine by their form; every other one must be listed in
:data:`ALLOWED` with why it is not text a person reads. A new slice of text fails here:
shorten it with ``cachalot_common.text.truncate`` (or ``prefix``) instead.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Slices whose value is an id, a hash or random hex by its form.
FINE_BY_FORM = re.compile(r"\.hex\b|hexdigest\(\)|\.digest\(\)|token_urlsafe|uuid4\(\)")

#: (module path from the package, slice as ``ast.unparse`` writes it) -> why it is not a cut
#: of text a person reads.
ALLOWED: dict[tuple[str, str], str] = {
    ("cachalot_common/crypto.py", "raw[:NONCE_BYTES]"): "bytes",
    ("cachalot_common/dead_letters.py", "list(reversed(letters))[:limit]"): "a list",
    ("cachalot_common/logging.py", "str(record.msg)[:200]"): "a repeat key, never shown",
    ("cachalot_common/platforms/spec.py", "noun[:1]"): "first letter compared, not shown",
    (
        "cachalot_common/telegram_entities.py",
        "head[:space]",
    ): "cut at a space of a whole-cluster prefix",
    ("cachalot_common/telegram_entities.py", "text[:index]"): "measures an offset, not a cut",
    ("cachalot_common/text.py", "text[:end]"): "the helper itself, end on a cluster boundary",
    ("cachalot_contact/mark.py", "record[:20]"): "bytes",
    ("cachalot_notifier/deliveries.py", "str(key)[:200]"): "a dedupe key (equality, never shown)",
    ("cachalot_notifier/deliveries.py", "intent.lane[:300]"): "a lane id (equality)",
    ("cachalot_notifier/deliveries.py", "intent.event_key[:300]"): "an event key (equality)",
    ("cachalot_notifier/mail_store.py", "notice.dedupe_key[:200]"): "a dedupe key (equality)",
    ("cachalot_notifier/unsubscribe.py", "(await request.body())[:4096]"): "bytes",
    ("cachalot_publishing/http.py", "self.buffer[:max_bytes]"): "bytes",
    ("cachalot_publishing/token.py", "self._waiting[:self._max_batch]"): "a list",
    ("cachalot_queue/main.py", "args[:1]"): "a list",
    ("cachalot_queue/paging.py", "rows[:limit]"): "a list",
    ("cachalot_queue/schemas.py", "loc[:1]"): "a tuple",
    ("cachalot_queue/sniff.py", "head[:4]"): "bytes",
    (
        "cachalot_sandbox/instagram_graph/api.py",
        "sorted((m for m in state.media.values() if m.owner == owner), "
        "key=lambda m: -m.timestamp)[:limit]",
    ): "a list",
    ("cachalot_sandbox/telegram/media.py", "kind[:2]"): "an ASCII kind name",
    ("cachalot_sandbox/telegraph/api.py", "content[:1]"): "a list of nodes",
    ("cachalot_sandbox/tiktok_content/api.py", "issued.subject[:12]"): "an id",
    ("cachalot_sandbox/tiktok_content/api.py", "issued.subject[:8]"): "an id",
    ("cachalot_sandbox/tiktok_content/photos.py", "head[:4]"): "bytes",
    ("cachalot_sandbox/vk_api/server.py", "chunk[:16]"): "bytes",
    ("cachalot_sandbox/vk_auth/server.py", "digest[:8]"): "bytes",
    ("cachalot_sandbox/vk_auth/server.py", "phone[:1]"): "a digit of a phone number",
    ("cachalot_sandbox/youtube_upload/routes.py", "piece[:room]"): "bytes",
    ("cachalot_sandbox/youtube_upload/routes.py", "mine[:limit]"): "a list",
    ("cachalot_sandbox/youtube_upload/routes.py", "ids[:50]"): "a list",
    ("cachalot_testing/chaos.py", "self.stuck_targets[:6]"): "a list",
    ("cachalot_testing/distributed.py", "str(entry).split(':')[:2]"): "a list",
    ("cachalot_testing/gateway.py", "stand_in.stream_writes[:4]"): "a list",
    ("cachalot_testing/gateway.py", "answer.body[:300]"): "bytes",
    ("cachalot_testing/gateway.py", "page.body[:300]"): "bytes",
    ("cachalot_testing/gateway.py", "own.body[:300]"): "bytes",
    ("cachalot_testing/roles.py", "filled[:start]"): "cut at a '{' of a path template",
}


def head_slices(path: Path) -> list[tuple[int, str]]:
    """The ``x[:N]`` / ``x[:NAME]`` / ``x[:a.b]`` slices of ``path``: (line, source)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.Subscript) or not isinstance(node.slice, ast.Slice):
            continue
        cut = node.slice
        by_number_or_name = isinstance(cut.upper, ast.Constant | ast.Name | ast.Attribute)
        if cut.lower is None and cut.step is None and by_number_or_name:
            found.append((node.lineno, ast.unparse(node)))
    return found


def source_slices() -> list[tuple[str, int, str]]:
    """Every head slice of the project's sources: (module path from its package, line, source)."""
    out = []
    for path in sorted(
        [
            *ROOT.glob("services/*/src/**/*.py"),
            *ROOT.glob("libs/*/src/**/*.py"),
            *ROOT.glob("embedded/src/**/*.py"),
        ]
    ):
        module = path.relative_to(next(p for p in path.parents if p.name == "src")).as_posix()
        out.extend((module, line, text) for line, text in head_slices(path))
    return out


def test_no_source_shortens_text_by_slicing_it() -> None:
    unlisted = [
        f"{module}:{line}: {text}"
        for module, line, text in source_slices()
        if not FINE_BY_FORM.search(text) and (module, text) not in ALLOWED
    ]
    assert not unlisted, (
        "text cut by position can split a character (issue 11, item 3); shorten it with "
        "cachalot_common.text.truncate/prefix, or list the slice in ALLOWED with why it is "
        "not text a person reads:\n" + "\n".join(unlisted)
    )


def test_every_allowed_slice_still_exists() -> None:
    present = {(module, text) for module, _, text in source_slices()}
    assert not set(ALLOWED) - present, sorted(set(ALLOWED) - present)


def test_the_check_finds_a_cut_of_text(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f(error, LIMIT):\n    return error.description[:300], error[:LIMIT]\n")
    assert head_slices(sample) == [(2, "error.description[:300]"), (2, "error[:LIMIT]")]
