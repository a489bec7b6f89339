"""``python -m cachalot_contact verify [path]``: check the whole hash chain.

Exit 0 and one line with the record count and the last hash when the chain
holds; exit 1 and one line naming the first broken line (number and why)
when it does not; exit 2 when the file cannot be read. Without ``path`` it
checks the log of ``CACHALOT_CONTACT_LOG_DIR``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cachalot_common.settings import load_settings
from cachalot_contact.chain import Verdict, verify_lines
from cachalot_contact.settings import ContactSettings


def verify_file(path: Path) -> Verdict:
    with path.open("rb") as file:
        return verify_lines(file)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m cachalot_contact")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("verify", help="check the contact log's hash chain")
    check.add_argument("path", nargs="?", type=Path, help="log file (default: from settings)")
    args = parser.parse_args(argv)
    path: Path = args.path or load_settings(ContactSettings, "cachalot-contact").log_path
    try:
        verdict = verify_file(path)
    except OSError as error:
        print(f"{path}: cannot read: {error.strerror or error}", file=sys.stderr)
        return 2
    if verdict.broken is not None:
        print(f"{path}: {verdict.broken} (first {verdict.records} records are intact)")
        return 1
    print(f"{path}: OK, {verdict.records} records, chain ends at {verdict.end.hash}")
    return 0
