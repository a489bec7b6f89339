"""Cutting text between whole characters (issue 11, item 3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachalot_common.text import clusters, has_visible, length, prefix, truncate

KEYCAP = "1\ufe0f\u20e3"  # 1️⃣: digit, emoji presentation, combining enclosing keycap
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦
FLAG = "\U0001f1fa\U0001f1e6"  # 🇺🇦
THUMB = "\U0001f44d\U0001f3fd"  # 👍🏽
ACCENT = "e\u0301"  # é written as e + combining acute
JAMO = "\u1100\u1161\u11a8"  # 각 spelled in conjoining jamo
TAG_FLAG = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"  # Scotland
DEVANAGARI = "\u0915\u094d\u0937\u093f"  # क्षि: a conjunct with a virama (UAX #29 GB9c)

KINDS = {
    "keycap": KEYCAP,
    "zwj family": FAMILY,
    "flag": FLAG,
    "skin tone": THUMB,
    "combining accent": ACCENT,
    "hangul jamo": JAMO,
    "tag sequence flag": TAG_FLAG,
    "indic conjunct": DEVANAGARI,
}


def test_the_issue_input_of_1333_keycaps_is_never_cut_between_a_digit_and_its_keycap():
    text = KEYCAP * 1333
    assert len(text) == 3999
    for limit in range(3990, 3999):
        cut = prefix(text, limit)
        assert cut == KEYCAP * (limit // 3)
    assert truncate(text, 3998) == KEYCAP * 1332 + "…"


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("count", ["codepoints", "utf16"])
def test_every_kind_of_multi_code_point_character_is_kept_or_dropped_whole(kind, count):
    unit = KINDS[kind]
    assert len(clusters(unit)) == 1, kind
    text = "ab" + unit * 5
    for limit in range(length(text, count)):
        cut = prefix(text, limit, count=count)
        assert length(cut, count) <= limit
        rest = text[len(cut) :]
        assert cut.startswith("ab") or limit < 2
        # What was kept is "ab" (or part of it) plus whole units, never a piece of one.
        if len(cut) >= 2:
            body = cut[2:]
            assert body == unit * (len(body) // len(unit)), (kind, limit, cut)
        assert rest == "" or clusters(cut + rest)[: len(clusters(cut))] == clusters(cut)


def test_lengths_are_counted_in_the_unit_asked_for():
    assert length(FAMILY, "codepoints") == 7
    assert length(FAMILY, "utf16") == 11  # four astral people (2 units each) and three ZWJs
    assert length(FAMILY, "graphemes") == 1
    assert length(KEYCAP * 3, "graphemes") == 3


def test_utf16_counting_keeps_an_astral_character_out_when_only_one_unit_is_left():
    assert prefix("a\U0001f600", 2, count="utf16") == "a"
    assert prefix("a\U0001f600", 3, count="utf16") == "a\U0001f600"


def test_a_text_that_fits_is_returned_unchanged_and_an_ellipsis_counts_toward_the_limit():
    assert truncate("hello", 5) == "hello"
    assert truncate("hello!", 5) == "hell…"
    assert truncate("hello!", 5, ellipsis="") == "hello"
    assert truncate("hello!", 0) == ""
    assert truncate("hello!", 2, ellipsis="...") == "he"  # no room for the mark


def test_graphemes_count_characters_as_a_reader_does():
    assert truncate(KEYCAP * 10, 4, count="graphemes") == KEYCAP * 3 + "…"


def _text() -> st.SearchStrategy[str]:
    pieces = st.one_of(
        st.sampled_from(list(KINDS.values())),
        st.text(
            alphabet=st.characters(exclude_categories=("Cs",)),  # no lone surrogates
            max_size=6,
        ),
        st.sampled_from(["\u200d", "\ufe0f", "\u20e3", "\u0301", "\U0001f1e6", "\r\n"]),
    )
    return st.lists(pieces, max_size=20).map("".join)


@settings(max_examples=400, deadline=None)
@given(
    text=_text(),
    limit=st.integers(min_value=-2, max_value=60),
    count=st.sampled_from(["graphemes", "utf16", "codepoints"]),
    ellipsis=st.sampled_from(["…", "", "...", " [cut]"]),
)
def test_a_cut_is_always_whole_clusters_of_the_text_within_the_limit(text, limit, count, ellipsis):
    cut = truncate(text, limit, count=count, ellipsis=ellipsis)
    assert length(cut, count) <= max(limit, 0)
    if length(text, count) <= max(limit, 0):
        assert cut == text
        return
    marked = length(ellipsis, count) <= max(limit, 0)
    if marked:
        assert cut.endswith(ellipsis)
    kept = cut[: len(cut) - len(ellipsis)] if marked else cut
    assert text.startswith(kept)
    # The kept part ends on a cluster boundary of the whole text...
    ends = {0}
    for cluster in clusters(text):
        ends.add(max(ends) + len(cluster))
    assert len(kept) in ends
    # ...and is as long as the room allows: one more cluster would not fit.
    room = max(limit, 0) - (length(ellipsis, count) if marked else 0)
    following = clusters(text[len(kept) :])
    assert length(kept + following[0], count) > room


# ---- issue 11 (A3): invisible format characters shown to the operator as codes

import sys  # noqa: E402
import unicodedata  # noqa: E402

from cachalot_common.text import (  # noqa: E402
    BIDI_CONTROLS,
    VISIBLE_FORMAT,
    reveal_invisible,
    shown_code,
)

TROJAN = 'access_level = "user\u202e \u2066// Check if admin\u2069 \u2066"'


def test_the_issue_input_a_right_to_left_override_is_shown_as_its_code() -> None:
    assert reveal_invisible("abc\u202etxt.exe") == "abc⟨U+202E⟩txt.exe"
    shown = reveal_invisible(TROJAN)
    for code in ("⟨U+202E⟩", "⟨U+2066⟩", "⟨U+2069⟩"):
        assert code in shown
    assert not BIDI_CONTROLS & set(shown)


def test_every_bidirectional_control_of_uax9_is_shown_wherever_it_stands() -> None:
    assert len(BIDI_CONTROLS) == 12
    for char in BIDI_CONTROLS:
        assert unicodedata.bidirectional(char) in {
            "AL",
            "L",
            "R",
            "LRE",
            "RLE",
            "PDF",
            "LRO",
            "RLO",
            "LRI",
            "RLI",
            "FSI",
            "PDI",
        }
        for text in (char, f"a{char}b", f"😀{char}", f"{char}\u0301"):
            assert char not in reveal_invisible(text), (hex(ord(char)), text)
            assert shown_code(char) in reveal_invisible(text)


def test_every_format_character_alone_between_letters_is_shown() -> None:
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) != "Cf" or char in VISIBLE_FORMAT:
            continue
        shown = reveal_invisible(f"a {char}b")
        if char in ("\u200c", "\u200d") or "\U000e0020" <= char <= "\U000e007f":
            continue  # after a space they extend it: checked below
        assert char not in shown, hex(code)


def test_joiners_and_tags_that_write_a_character_are_kept_and_stray_ones_shown() -> None:
    family = "👨\u200d👩\u200d👧"
    persian = "می\u200cخواهم"
    scotland = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    for text in (family, persian, scotland, "1\ufe0f\u20e3", "e\u0301"):
        assert reveal_invisible(text) == text
    assert reveal_invisible("\u200dx") == "⟨U+200D⟩x"
    hidden = "hi" + "".join(chr(0xE0000 + ord(c)) for c in "run me")  # ASCII smuggled in tags
    assert reveal_invisible(hidden).startswith("hi⟨U+E0072⟩⟨U+E0075⟩")
    assert reveal_invisible("pay\u00adpal\u200b") == "pay⟨U+00AD⟩pal⟨U+200B⟩"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_no_bidirectional_control_survives_and_revealing_twice_changes_nothing(text: str) -> None:
    shown = reveal_invisible(text)
    assert not BIDI_CONTROLS & set(shown)
    assert reveal_invisible(shown) == shown


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\u200b\u200b",
        "\t\n\u00a0\u3000",
        "\u3164\u2800",
        "\u200d\ufeff\u202e",
        " \u0301",
    ],
)
def test_a_text_of_spaces_format_characters_or_blank_letters_has_nothing_visible(
    text: str,
) -> None:
    assert not has_visible(text)


@pytest.mark.parametrize("text", ["a", ".", "🙂", "\u200bok\u200b", "e\u0301", "Привет"])
def test_a_text_with_one_character_that_draws_something_has_something_visible(text: str) -> None:
    assert has_visible(text)


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x1f", "\x7f", "\x85"])
def test_a_control_character_other_than_a_line_break_or_tab_is_refused(char: str) -> None:
    from cachalot_common.text import text_problem

    problem = text_problem(f"ab{char}c")
    assert problem is not None
    assert f"U+{ord(char):04X} at character 3" in problem
    assert text_problem("line\nnext\r\n\tindented") is None


@pytest.mark.parametrize("blank", ["", "  \u200b ", "\u3000\ufeff\u2060", "\u3164", "\t\n"])
def test_a_required_text_of_only_spaces_or_invisible_characters_is_blank(blank: str) -> None:
    from cachalot_common.text import text_problem

    assert text_problem(blank, required=True) is not None
    assert text_problem(blank) is None  # an optional text may be empty or blank
    assert text_problem(f"{blank}x", required=True) is None
