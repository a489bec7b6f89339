"""``python -m cachalot_contact verify``: exit 0 on an intact chain, 1 naming the broken line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cachalot_contact.chain import Link, make_line


def write_log(path: Path, count: int) -> None:
    end, lines = Link(), []
    for n in range(count):
        line, end = make_line({"event_id": str(n), "message": f"message {n}"}, end)
        lines.append(line)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(lines))


def verify(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cachalot_contact", "verify", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=30,
    )


def test_verify_accepts_an_intact_log_and_a_tampered_line_is_named(tmp_path: Path):
    path = tmp_path / "contact.log.jsonl"
    write_log(path, 4)
    ok = verify(str(path))
    assert ok.returncode == 0, ok.stderr
    assert "OK, 4 records" in ok.stdout

    path.write_bytes(path.read_bytes().replace(b"message 2", b"message X"))
    broken = verify(str(path))
    assert broken.returncode == 1
    assert "line 3:" in broken.stdout
    assert "does not match its hash" in broken.stdout


def test_verify_reads_the_configured_log_dir_by_default(tmp_path: Path):
    write_log(tmp_path / "contact.log.jsonl", 2)
    result = verify(env={"CACHALOT_CONTACT_LOG_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "OK, 2 records" in result.stdout


def test_verify_of_a_missing_file_says_so(tmp_path: Path):
    result = verify(str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr
