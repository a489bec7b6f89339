"""The hash chain: canonical lines, and a check that names the first broken line."""

from __future__ import annotations

import hashlib
import json

from cachalot_contact.chain import GENESIS, Link, canonical, make_line, verify_lines


def build(count: int) -> list[bytes]:
    lines, end = [], Link()
    for n in range(count):
        line, end = make_line({"event_id": str(n), "message": f"hello {n} ü"}, end)
        lines.append(line)
    return lines


def test_each_line_carries_the_hash_of_the_previous_one():
    lines = build(3)
    records = [json.loads(line) for line in lines]
    assert records[0]["prev"] == GENESIS
    assert records[1]["prev"] == records[0]["hash"]
    assert records[2]["prev"] == records[1]["hash"]
    assert [r["seq"] for r in records] == [1, 2, 3]


def test_hash_is_sha256_of_the_canonical_form_without_the_hash_key():
    record = json.loads(build(1)[0])
    body = {k: v for k, v in record.items() if k != "hash"}
    expected = hashlib.sha256(
        json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert record["hash"] == expected
    assert build(1)[0] == canonical(record) + b"\n"
    assert "ü".encode() in build(1)[0]  # non-ASCII written as itself


def test_an_intact_chain_verifies():
    verdict = verify_lines(build(5))
    assert verdict.ok
    assert verdict.records == 5
    assert verdict.end.seq == 5


def test_an_empty_log_verifies():
    assert verify_lines([]).ok


def test_an_edited_line_is_named_even_when_it_is_the_last():
    for target in (2, 4):
        lines = build(4)
        lines[target - 1] = lines[target - 1].replace(b"hello", b"HELLO")
        verdict = verify_lines(lines)
        assert not verdict.ok
        assert verdict.broken is not None
        assert verdict.broken.line == target
        assert "hash" in verdict.broken.reason
        assert verdict.records == target - 1


def test_a_deleted_line_breaks_the_next_one():
    lines = build(4)
    del lines[1]
    verdict = verify_lines(lines)
    assert verdict.broken is not None
    assert verdict.broken.line == 2


def test_a_rehashed_forgery_still_breaks_the_chain_after_it():
    lines = build(3)
    record = json.loads(lines[0])
    record["event"]["message"] = "forged"
    body = {k: v for k, v in record.items() if k != "hash"}
    record["hash"] = hashlib.sha256(canonical(body)).hexdigest()
    lines[0] = canonical(record) + b"\n"
    verdict = verify_lines(lines)
    assert verdict.broken is not None
    assert verdict.broken.line == 2
    assert "prev" in verdict.broken.reason


def test_garbage_and_torn_lines_are_named():
    lines = [*build(2), b"{not json\n"]
    assert verify_lines(lines).broken.line == 3  # type: ignore[union-attr]
    torn = build(3)
    torn[2] = torn[2][:20]
    verdict = verify_lines(torn)
    assert verdict.broken is not None
    assert verdict.broken.line == 3
    assert "torn" in verdict.broken.reason


def test_whitespace_rewrites_are_not_canonical():
    lines = build(2)
    lines[1] = json.dumps(json.loads(lines[1])).encode() + b"\n"
    verdict = verify_lines(lines)
    assert verdict.broken is not None
    assert verdict.broken.line == 2
    assert "canonical" in verdict.broken.reason
