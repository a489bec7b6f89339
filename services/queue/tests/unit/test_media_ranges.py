"""The signed media link's own reading of ``Range`` (RFC 9110 §14.1), without a server."""

from __future__ import annotations

import pytest

from cachalot_queue.media_links import satisfiable_ranges

SIZE = 100


@pytest.mark.parametrize(
    ("value", "ranges"),
    [
        ("bytes=0-9", [(0, 9)]),
        ("BYTES=10-", [(10, 99)]),
        ("bytes=-16", [(84, 99)]),
        ("bytes=-500", [(0, 99)]),  # a suffix longer than the file is the whole file
        ("bytes=90-500", [(90, 99)]),
        ("bytes=0-1,, 4-5 ,", [(0, 1), (4, 5)]),
        ("bytes=0-9, 200-300", [(0, 9)]),  # the satisfiable ones only
        ("bytes=100-", []),
        ("bytes=-0", []),
        ("bytes=200-300, -0", []),
    ],
)
def test_a_range_set_gives_its_satisfiable_ranges_or_none_of_them(
    value: str, ranges: list[tuple[int, int]]
) -> None:
    assert satisfiable_ranges(value, SIZE) == ranges


@pytest.mark.parametrize(
    "value",
    ["bytes", "bytes=", "bytes=,", "bytes=abc", "bytes=5-1", "items=0-9", "bytes =0-9",
     "bytes=0-9,x", "bytes=1--2", "bytes=٣-٤", "bytes=0-9;"],
)  # fmt: skip
def test_a_range_header_that_is_not_rfc_9110_syntax_or_unit_is_ignored(value: str) -> None:
    assert satisfiable_ranges(value, SIZE) is None
