"""The fake's parsers accept what Telegram accepts and refuse the rest, in Telegram's words."""

from __future__ import annotations

import pytest

from cachalot_sandbox.telegram.entities import EntityParseError, parse_text


def parsed(text: str, mode: str | None) -> tuple[str, list[dict[str, object]]]:
    result = parse_text(text, mode)
    return result.text, result.entities


def test_markdown_v2_bold_italic_underline_strike_spoiler_become_entities():
    text, entities = parsed(r"*b* _i_ __u__ ~s~ ||sp||", "MarkdownV2")
    assert text == "b i u s sp"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
    ]
    assert entities[4] == {"type": "spoiler", "offset": 8, "length": 2}


@pytest.mark.parametrize("char", list("_*[]()~`>#+-=|{}.!"))
def test_markdown_v2_every_special_character_must_be_escaped(char):
    with pytest.raises(EntityParseError) as error:
        parse_text(f"a {char}{char} b {char}", "MarkdownV2")
    assert "Character" in str(error.value) or "Can't find end" in str(error.value)


@pytest.mark.parametrize("char", list("_*[]()~`>#+-=|{}.!\\"))
def test_markdown_v2_escaped_special_characters_are_plain_text(char):
    assert parsed(f"a \\{char} b", "MarkdownV2") == (f"a {char} b", [])


def test_markdown_v2_reserved_character_error_has_telegrams_wording():
    with pytest.raises(EntityParseError, match=r"^Character '\.' is reserved and must be escaped "):
        parse_text("Hello.", "MarkdownV2")


def test_markdown_v2_unclosed_entity_names_its_type_and_byte_offset():
    with pytest.raises(EntityParseError, match=r"^Can't find end of Bold entity at byte offset 5$"):
        parse_text("яя *bold", "MarkdownV2")


def test_markdown_v2_link_url_takes_escaped_parenthesis():
    text, entities = parsed(r"[site](http://x.org/a\)b) ok", "MarkdownV2")
    assert text == "site ok"
    assert entities == [{"type": "text_link", "offset": 0, "length": 4, "url": "http://x.org/a)b"}]


def test_markdown_v2_unclosed_link_url_is_refused():
    with pytest.raises(EntityParseError, match="Can't find end of a URL"):
        parse_text("[a](http://x", "MarkdownV2")


def test_markdown_v2_code_and_pre_only_reserve_backticks():
    text, entities = parsed("`a.b*c` and ```python\nx = 1.0\n```", "MarkdownV2")
    assert text == "a.b*c and x = 1.0"
    assert entities == [
        {"type": "code", "offset": 0, "length": 5},
        {"type": "pre", "offset": 10, "length": 7, "language": "python"},
    ]


def test_markdown_v2_block_quote_spans_consecutive_quoted_lines():
    text, entities = parsed(">one\n>two\nthree", "MarkdownV2")
    assert text == "one\ntwo\nthree"
    assert entities == [{"type": "blockquote", "offset": 0, "length": 7}]


def test_entity_offsets_are_counted_in_utf16_code_units():
    text, entities = parsed("😀 *x*", "MarkdownV2")
    assert text == "😀 x"
    assert entities == [{"type": "bold", "offset": 3, "length": 1}]


def test_html_allowed_tags_and_the_four_named_entities():
    text, entities = parsed(
        '<b>b</b><i>i</i><u>u</u><s>s</s><tg-spoiler>p</tg-spoiler><a href="http://x">l</a>'
        " &lt;&gt;&amp;&quot; &#128512;&#x41;",
        "HTML",
    )
    assert text == 'biuspl <>&" 😀A'
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "text_link",
    ]


def test_html_unknown_named_entity_stays_literal_text():
    assert parsed("a &nbsp; b", "HTML") == ("a &nbsp; b", [])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_html_that_does_not_parse_is_refused_with_telegrams_wording(text, message):
    with pytest.raises(EntityParseError) as error:
        parse_text(text, "HTML")
    assert str(error.value) == message


def test_html_pre_with_code_language_becomes_one_pre_entity():
    text, entities = parsed('<pre><code class="language-python">x = 1</code></pre>', "HTML")
    assert text == "x = 1"
    assert entities == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]


def test_text_is_trimmed_and_cleaned_like_telegram_stores_it():
    text, entities = parsed("  \n<b>hi</b>\r there\x07  \n", "HTML")
    assert text == "hi there"
    assert entities == [{"type": "bold", "offset": 0, "length": 2}]


def test_legacy_markdown_needs_closed_entities():
    assert parsed("*b* _i_ `c`", "Markdown")[0] == "b i c"
    with pytest.raises(EntityParseError, match="Can't find end of the entity starting at byte"):
        parse_text("snake_case", "Markdown")
