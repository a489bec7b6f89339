"""The article subset: what is accepted, what is refused naming why, and how it renders."""

from __future__ import annotations

import pytest

from cachalot_common import articles
from cachalot_common.articles import ArticleError

BODY = (
    '<h3>Why</h3><p>Read <a href="https://example.com/a?b=1&amp;c=2">this</a> and '
    "<b>that</b> &lt;now&gt;.</p><ul><li>one</li><li><i>two</i></li></ul><p>Last<br>line</p>"
)


def test_an_article_in_the_subset_parses_into_telegraph_nodes() -> None:
    nodes = articles.parse(BODY)
    assert nodes[0] == {"tag": "h3", "children": ["Why"]}
    link = nodes[1]["children"][1]  # type: ignore[index]
    assert link == {
        "tag": "a",
        "attrs": {"href": "https://example.com/a?b=1&c=2"},
        "children": ["this"],
    }


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("<p>x<script>alert(1)</script></p>", "<script>"),
        ('<p onclick="x">x</p>', "onclick"),
        ('<p><a href="javascript:alert(1)">x</a></p>', "javascript:alert(1)"),
        ("<p><b>x</p>", "</p>"),
        ("<p>x", "<p> is never closed"),
        ("<p>   </p>", "no text"),
        ("<p>x</p><!-- c -->", "comments"),
        ('<p><img src="https://x/y.png"></p>', "<img>"),
    ],
)
def test_anything_outside_the_subset_is_refused_naming_it(body: str, named: str) -> None:
    with pytest.raises(ArticleError, match=None) as caught:
        articles.parse(body)
    assert named in str(caught.value)


def test_an_article_becomes_one_telegram_html_message_with_its_title() -> None:
    message = articles.to_telegram_html(articles.parse(BODY), title="A & B")
    assert message == (
        '<b>A &amp; B</b>\n\n<b>Why</b>\n\nRead <a href="https://example.com/a?b=1&amp;c=2">this</a>'
        " and <b>that</b> &lt;now&gt;.\n\n• one\n• <i>two</i>\n\nLast\nline"
    )


def test_a_quote_stays_a_quote_in_a_telegram_message() -> None:
    """fresh10e: a one-message article lost its blockquote (sent as plain text), though the
    Bot API's HTML style takes ``<blockquote>``; a quote in a quote is not nested."""
    nodes = articles.parse(
        "<p>Before</p><blockquote><p>цитата <b>1</b></p><p>two</p>"
        "<blockquote>inner</blockquote></blockquote><p>After</p>"
    )
    message = articles.to_telegram_html(nodes)
    assert message == (
        "Before\n\n<blockquote>цитата <b>1</b>\n\ntwo\n\ninner</blockquote>\n\nAfter"
    )
    assert articles.telegram_length(message) == len("Before\n\nцитата 1\n\ntwo\n\ninner\n\nAfter")


def test_telegram_counts_the_text_after_entity_parsing_in_utf16_units() -> None:
    message = articles.to_telegram_html(articles.parse("<p><b>😀</b> &amp;</p>"))
    assert message == "<b>😀</b> &amp;"
    assert articles.telegram_length(message) == 4  # 😀 is two UTF-16 units, then " &"


def test_plain_text_spells_links_out_for_platforms_without_markup() -> None:
    text = articles.to_plain_text(articles.parse(BODY), title="T")
    assert text.startswith("T\n\nWhy\n\nRead this (https://example.com/a?b=1&c=2) and that <now>.")
    assert articles.lead(articles.parse(BODY)) == "Why"
