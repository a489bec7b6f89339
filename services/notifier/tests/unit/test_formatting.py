"""Typed text survives escaping: Telegram's parser (the sandbox's) gives back exactly it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cachalot_common.events import ContactSubmitted, NotifyRequested
from cachalot_common.text import clusters
from cachalot_notifier import messages
from cachalot_notifier.formatting import (
    REPEAT_NOTICE,
    TELEGRAM_TEXT_LIMIT,
    Span,
    escape_html,
    escape_markdown_v2,
    fit,
    render,
    repeat_notice,
    shown_text,
    utf16_len,
    visible,
)
from cachalot_sandbox.telegram.entities import parse_text
from cachalot_testing.chaos import REPEAT_NOTICE_START

HOSTILE = [
    "<b>bold?</b> <script>alert(1)</script> &amp; &lt; &#128512; a < b > c & d",
    r"*not bold* _not italic_ __u__ ~s~ ||spoiler|| `code` ```pre``` [link](http://x.y)",
    r"\ \\ \* \_ trailing backslash \\",
    "_*[]()~`>#+-=|{}.!",
    ">not a quote\n**>nor this||",
    "emoji 😀👍🏽 👨‍👩‍👧‍👦 🇺🇦 and Кириллица, 中文, עברית",
    "line one\nline two\n\n\tindented\n",
    "   leading and trailing spaces   ",
]

# Telegram deletes these before storing a message (bidi overrides, line
# separators, three combining marks); visible() maps line separators to \n.
_TELEGRAM_DELETES = "\u202a\u202b\u202c\u202d\u202e\u0333\u033f\u030a"
typed_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=_TELEGRAM_DELETES),
    max_size=300,
)


def shown(raw: str, mode: str) -> str:
    return parse_text(raw, mode).text


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize(
    ("mode", "escape"), [("HTML", escape_html), ("MarkdownV2", escape_markdown_v2)]
)
def test_hostile_text_escaped_for_the_parse_mode_is_shown_exactly(text, mode, escape):
    assert shown("A" + escape(text) + "Z", mode) == "A" + text + "Z"


@settings(max_examples=300, deadline=None)
@given(text=typed_text)
def test_any_text_round_trips_through_the_html_escaper(text):
    text = visible(text)
    assert shown("A" + escape_html(text) + "Z", "HTML") == "A" + text + "Z"


@settings(max_examples=300, deadline=None)
@given(text=typed_text)
def test_any_text_round_trips_through_the_markdown_v2_escaper(text):
    text = visible(text)
    assert shown("A" + escape_markdown_v2(text) + "Z", "MarkdownV2") == "A" + text + "Z"


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.tuples(typed_text, st.sampled_from(["plain", "bold", "italic", "code"])), max_size=6
    ),
    mode=st.sampled_from(["HTML", "MarkdownV2"]),
)
def test_styled_spans_render_to_exactly_their_text(parts, mode):
    spans = [Span("A")] + [Span(visible(t), s) for t, s in parts] + [Span("Z")]
    assert shown(render(spans, mode), mode) == shown_text(spans)


def test_visible_keeps_line_breaks_and_shows_control_characters():
    assert visible("a\r\nb\rc\u2028d") == "a\nb\nc\nd"
    assert visible("bell\x07 tab\t") == "bell␇ tab\t"


def test_fit_leaves_a_short_message_alone():
    spans = [Span("head\n", "bold"), Span("short", truncatable=True)]
    assert fit(spans) == spans


def test_fit_cuts_the_truncatable_span_and_says_how_much_was_left_out():
    long = "x" * 5000
    spans = fit([Span("head\n", "bold"), Span(long, truncatable=True), Span("\nfooter")])
    text = shown_text(spans)
    assert TELEGRAM_TEXT_LIMIT - 5 <= utf16_len(text) <= TELEGRAM_TEXT_LIMIT
    assert text.startswith("head\nxxx")
    assert text.endswith("more characters]\nfooter")
    kept = spans[1].text
    assert f"[cut: {5000 - len(kept)} more characters]" in text


def test_fit_counts_emoji_as_two_units_and_never_splits_a_joined_emoji():
    family = "👨‍👩‍👧‍👦"
    spans = fit([Span("h"), Span(family * 1000, truncatable=True)], limit=100)
    kept = spans[1].text
    assert utf16_len(shown_text(spans)) <= 100
    assert kept == family * (len(kept) // len(family))


@pytest.mark.parametrize("mode", ["HTML", "MarkdownV2"])
def test_cut_text_with_escapes_still_parses_within_the_limit(mode):
    spans = fit([Span("h\n"), Span("<&>*_\\." * 1000, truncatable=True), Span("\nend")])
    parsed = shown(render(spans, mode), mode)
    assert parsed == shown_text(spans)
    assert utf16_len(parsed) <= TELEGRAM_TEXT_LIMIT


def contact(**overrides: object) -> ContactSubmitted:
    fields: dict[str, object] = {
        "event_id": uuid.uuid4(),
        "occurred_at": datetime(2026, 11, 29, 3, 0, tzinfo=UTC),
        "name": "Ада <Lovelace> *",
        "contact": "@ada_lovelace",
        "contact_kind": "telegram",
        "category": "video_production",
        "message": "Need a video.\n<b>not bold</b>",
        "ip": "203.0.113.9",
    }
    fields.update(overrides)
    return ContactSubmitted.model_validate(fields)


@pytest.mark.parametrize("mode", ["HTML", "MarkdownV2"])
def test_contact_message_shows_every_field_as_typed(mode):
    event = contact()
    text = shown(render(messages.contact_submitted(event), mode), mode)
    assert text.startswith("New contact request\nName: Ада <Lovelace> *\n")
    assert "Contact: @ada_lovelace\n" in text
    assert "Category: Video production\n" in text
    assert "Category: Video production\n\nNeed a video.\n<b>not bold</b>\n\n" in text
    assert text.endswith(f"Submission {event.event_id} · 2026-11-29 03:00:00 UTC · IP 203.0.113.9")


@pytest.mark.parametrize("mode", ["HTML", "MarkdownV2"])
def test_contact_message_with_a_4000_character_special_message_fits_telegrams_limit(mode):
    event = contact(name="N" * 100, message="😀<*" * 1334)
    raw = render(messages.contact_submitted(event), mode)
    text = shown(raw, mode)
    assert utf16_len(text) <= TELEGRAM_TEXT_LIMIT
    assert "more characters]" in text


@pytest.mark.parametrize("mode", ["HTML", "MarkdownV2"])
def test_a_4000_character_message_arrives_whole_by_dropping_the_footer(mode):
    typed = "<b>&*_`\\ é\n" * 400
    event = contact(name="Ada", message=typed[:4000])
    text = shown(render(messages.contact_submitted(event), mode), mode)
    assert text.endswith("Category: Video production\n\n" + typed[:4000].rstrip())
    assert str(event.event_id) not in text


KEYCAP = "1\ufe0f\u20e3"  # 1️⃣: digit, emoji presentation selector, combining enclosing keycap
# Characters a reader sees as one, made of several code points (issue 11, item 3).
CLUSTERS = {
    "keycap": KEYCAP,
    "zwj family": "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "flag": "\U0001f1fa\U0001f1e6",
    "combining accent": "e\u0301",
    "hangul jamo": "\u1100\u1161\u11a8",
    "indic conjunct": "\u0915\u094d\u0937\u093f",
}


def _whole(kept: str, unit: str) -> bool:
    return kept == unit * (len(kept) // len(unit))


@pytest.mark.parametrize("mode", ["HTML", "MarkdownV2"])
@pytest.mark.parametrize("name_length", [98, 99, 100])  # each phase of the cut within a keycap
def test_1333_keycaps_reach_the_operator_cut_between_whole_keycaps(mode, name_length):
    name = "N" * name_length
    event = contact(name=name, message=KEYCAP * 1333)  # 3,999 code points (the issue)
    spans = messages.contact_submitted(event)
    text = shown(render(spans, mode), mode)
    assert utf16_len(text) <= TELEGRAM_TEXT_LIMIT
    typed = text.split("Category: Video production\n\n", 1)[1]
    kept, marker = typed.split(" … [cut: ", 1)
    assert _whole(kept, KEYCAP)
    assert marker == f"{1333 - len(kept) // 3} more characters]"


@pytest.mark.parametrize("kind", sorted(CLUSTERS))
@pytest.mark.parametrize("limit", range(90, 100))
def test_fit_keeps_or_drops_each_multi_code_point_character_whole(kind, limit):
    unit = CLUSTERS[kind]
    spans = fit([Span("h"), Span(unit * 200, truncatable=True)], limit=limit)
    assert utf16_len(shown_text(spans)) <= limit
    assert _whole(spans[1].text, unit)


def test_a_long_field_is_capped_between_whole_characters():
    subject = "x" + KEYCAP * 150
    event = NotifyRequested(channel="operator_telegram", subject=subject, text="body")
    shown_subject = messages.notify_requested(event)[0].text
    assert shown_subject.endswith("…\n")
    assert _whole(shown_subject.removeprefix("x").removesuffix("…\n"), KEYCAP)
    assert utf16_len(shown_subject) <= 301  # 300 and the line break


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(st.sampled_from(sorted(CLUSTERS.values())), st.text(max_size=5)),
        min_size=10,
        max_size=60,
    ),
    limit=st.integers(min_value=40, max_value=100),  # room for the head and the marker
)
def test_fit_always_keeps_whole_clusters_of_the_typed_text_within_the_limit(pieces, limit):
    typed = "".join(pieces)
    spans = fit([Span("head\n", "bold"), Span(typed, truncatable=True)], limit=limit)
    assert utf16_len(shown_text(spans)) <= limit
    kept = spans[1].text
    assert typed.startswith(kept)
    assert len(kept) in {len("".join(clusters(typed)[:n])) for n in range(len(typed) + 1)}


@pytest.mark.parametrize("mode", ["HTML", "MarkdownV2", None])
def test_a_possible_repeat_is_headed_by_the_notice_in_its_own_parse_mode(mode) -> None:
    spans = messages.contact_submitted(
        ContactSubmitted(
            name="<Ann>",
            contact="@ann_smith",
            contact_kind="telegram",
            category="other",
            message="a*b_c [x](y) & <b>",
        )
    )
    plain = shown_text(spans)
    text = render(spans, mode) if mode else plain
    marked, marked_mode = repeat_notice(text, plain, mode)
    assert marked_mode == mode
    shown = parse_text(marked, mode).text if mode else marked
    assert shown == REPEAT_NOTICE + "\n\n" + plain


def test_a_possible_repeat_of_a_full_length_message_is_cut_to_fit_with_its_notice() -> None:
    plain = "👨‍👩‍👧‍👦" * 600 + " end"  # 6,604 units: already over, as a worst case
    marked, mode = repeat_notice(plain, plain, "HTML")
    assert mode is None
    assert marked.startswith(REPEAT_NOTICE)
    assert utf16_len(marked) <= TELEGRAM_TEXT_LIMIT
    assert "[cut:" in marked


def test_the_repeat_notice_starts_as_the_fault_suite_recognises_it() -> None:
    """bench/chaos.py tells a marked repeat from a message sent twice by this start."""
    assert REPEAT_NOTICE.startswith(REPEAT_NOTICE_START)
