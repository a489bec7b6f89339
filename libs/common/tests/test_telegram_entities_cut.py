"""Text + entities back to Bot API HTML, and cut to a length without breaking a link or a
grapheme (an announcement's lead keeps its links)."""

from __future__ import annotations

import pytest

from cachalot_common import articles
from cachalot_common.telegram_entities import ParsedText, cut, parse_text, to_html, utf16_len

SAMPLES = [
    "plain text",
    "<b>bold <i>both</i></b> and <u>under</u> <s>struck</s>",
    '<a href="https://example.com/?a=1&amp;b=&quot;2&quot;">a link &lt;here&gt;</a> &amp; more',
    "family 👨‍👩‍👧 and flag 🇺🇦 in <b>bold 👍🏽</b>",
    "<tg-spoiler>secret</tg-spoiler> <code>x &lt; y</code> <pre>block</pre>",
    '<pre><code class="language-python">print(1)</code></pre>',
]


@pytest.mark.parametrize("message", SAMPLES)
def test_html_written_back_from_entities_parses_to_the_same_text_and_entities(
    message: str,
) -> None:
    parsed = parse_text(message, "html")
    assert parse_text(to_html(parsed), "html") == parsed


def test_entities_that_cross_are_closed_and_opened_again_around_the_crossing() -> None:
    crossing = ParsedText(
        "abcde",
        [{"type": "bold", "offset": 0, "length": 3}, {"type": "italic", "offset": 1, "length": 4}],
    )
    written = to_html(crossing)
    assert written == "<b>a<i>bc</i></b><i>de</i>"
    assert parse_text(written, "html").text == "abcde"


def test_a_text_that_fits_is_not_cut() -> None:
    parsed = parse_text('<a href="https://e.x">one</a> two', "html")
    assert cut(parsed, utf16_len(parsed.text)) is parsed


def test_a_cut_keeps_the_link_ends_at_a_word_and_fits_the_limit() -> None:
    parsed = parse_text('<a href="https://e.x/a">one two three</a> and <b>four</b> five', "html")
    short = cut(parsed, 16)
    assert short.text == "one two three…"
    assert short.entities == [
        {"type": "text_link", "offset": 0, "length": 13, "url": "https://e.x/a"}
    ]
    assert to_html(short) == '<a href="https://e.x/a">one two three</a>…'
    inside = cut(parsed, 9)  # the link's own text is cut; it still leads to its URL
    assert to_html(inside) == '<a href="https://e.x/a">one two</a>…'


@pytest.mark.parametrize("limit", range(1, 40))
def test_a_cut_never_splits_a_grapheme_and_never_passes_the_limit(limit: int) -> None:
    parsed = parse_text("<b>👨‍👩‍👧👨‍👩‍👧</b>🇺🇦🇺🇦e\u0301e\u0301👍🏽👍🏽", "html")
    short = cut(parsed, limit)
    assert utf16_len(short.text) <= limit
    kept = short.text.removesuffix("…")
    assert parsed.text.startswith(kept)
    rest = parsed.text[len(kept) :]
    assert rest == "" or rest[0] not in ("\u200d", "\u0301", "\U0001f3fd", "\U0001f1e6")
    assert not kept or kept[-1] not in ("\u200d",)
    assert parse_text(to_html(short), "html") == short


def test_an_articles_lead_keeps_its_links_and_formatting_as_telegram_html() -> None:
    nodes = articles.parse(
        '<p>Read <a href="https://example.com/x?a=1&amp;b=2">our guide</a>, '
        "<b>then</b> <i>act</i> &amp; share.</p><p>Second.</p>"
    )
    lead = articles.lead_html(nodes, 700)
    assert lead == (
        'Read <a href="https://example.com/x?a=1&amp;b=2">our guide</a>, '
        "<b>then</b> <i>act</i> &amp; share."
    )
    parsed = parse_text(lead, "html")
    assert parsed.text == "Read our guide, then act & share."
    assert {e["type"] for e in parsed.entities} == {"text_link", "bold", "italic"}


def test_a_long_lead_is_cut_to_its_limit_at_a_word_keeping_the_links_before_the_cut() -> None:
    body = '<p><a href="https://example.com/">Start</a> ' + "word 👨‍👩‍👧 " * 400 + "</p>"
    lead = articles.lead_html(articles.parse(body), 700)
    parsed = parse_text(lead, "html")
    assert utf16_len(parsed.text) <= 700
    assert parsed.text.endswith("…")
    assert parsed.text.removesuffix("…").split(" ")[-1] in ("word", "👨‍👩‍👧")
    assert parsed.entities == [
        {"type": "text_link", "offset": 0, "length": 5, "url": "https://example.com/"}
    ]
