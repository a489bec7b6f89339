"""Articles: the HTML subset a client writes, checked once and rendered per platform.

An article body is HTML limited to what every target can show:

* blocks: ``p``, ``h3``, ``h4``, ``blockquote``, ``ul``/``ol`` with ``li``;
* inline: ``a href`` (``http``, ``https``, ``mailto``, ``tg``), ``b``/``strong``,
  ``i``/``em``, ``u``, ``s``, ``br``.

That is the intersection of Telegraph's allowed tags
(https://telegra.ph/api#NodeElement) and Telegram's HTML parse mode
(https://core.telegram.org/bots/api#html-style), so an article becomes a
Telegraph page node for node and a Telegram message without losing anything
but block layout. :func:`parse` turns the body into Telegraph ``Node`` trees
(``str`` or ``{"tag", "attrs"?, "children"?}``) and raises
:class:`ArticleError` naming the first thing not allowed; the renderers take
those nodes:

* :func:`to_telegram_html`: Telegram's HTML style, paragraphs as blank lines,
  headings bold, list items with bullets, quotes as ``<blockquote>``;
* :func:`to_plain_text`: VK wall text and Instagram captions (no markup; a
  link is its text followed by its address unless they are the same).

Lengths: Telegram counts a message's text *after entity parsing* in UTF-16
code units (https://core.telegram.org/bots/api#sendmessage, "1-4096
characters after entities parsing"); :func:`telegram_length` gives that count.
"""

from __future__ import annotations

from html import escape
from html.parser import HTMLParser
from typing import Any, Final, TypeAlias
from urllib.parse import urlsplit

from cachalot_common.telegram_entities import (
    EntityParseError,
    cut,
    parse_text,
    to_html,
    utf16_len,
)
from cachalot_common.text import truncate

Node: TypeAlias = "str | dict[str, Any]"
"""A Telegraph Node: text, or ``{"tag": str, "attrs": {"href": str}?, "children": [Node]?}``."""

BLOCK_TAGS: Final = frozenset({"p", "h3", "h4", "blockquote", "ul", "ol", "li"})
INLINE_TAGS: Final = frozenset({"a", "b", "strong", "i", "em", "u", "s", "br"})
ALLOWED_TAGS: Final = BLOCK_TAGS | INLINE_TAGS
LINK_SCHEMES: Final = frozenset({"http", "https", "mailto", "tg"})
_VOID: Final = frozenset({"br"})
_TELEGRAM_INLINE: Final = {"b": "b", "strong": "b", "i": "i", "em": "i", "u": "u", "s": "s"}


class ArticleError(ValueError):
    """The body is not in the article subset; the message names what and where."""


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root: list[Node] = []
        self._stack: list[dict[str, Any]] = []

    def _append(self, node: Node) -> None:
        (self._stack[-1].setdefault("children", []) if self._stack else self.root).append(node)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            allowed = ", ".join(sorted(ALLOWED_TAGS))
            raise ArticleError(f"<{tag}> is not allowed in an article (allowed: {allowed})")
        element: dict[str, Any] = {"tag": tag}
        for name, value in attrs:
            if tag != "a" or name != "href":
                raise ArticleError(f'<{tag}> may not have the attribute "{name}"')
            href = (value or "").strip()
            if urlsplit(href).scheme.lower() not in LINK_SCHEMES:
                schemes = ", ".join(sorted(LINK_SCHEMES))
                raise ArticleError(
                    f'the link "{truncate(href, 80)}" must start with one of {schemes}:'
                )
            element["attrs"] = {"href": href}
        if tag == "a" and "attrs" not in element:
            raise ArticleError("<a> needs an href")
        self._append(element)
        if tag not in _VOID:
            self._stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self._stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if not self._stack or self._stack[-1]["tag"] != tag:
            open_tag = self._stack[-1]["tag"] if self._stack else None
            raise ArticleError(
                f"</{tag}> closes nothing open"
                if open_tag is None
                else f"</{tag}> found while <{open_tag}> is open"
            )
        self._stack.pop()

    def handle_data(self, data: str) -> None:
        if data:
            self._append(data)

    def handle_comment(self, data: str) -> None:
        raise ArticleError("comments are not allowed in an article")

    def handle_decl(self, decl: str) -> None:
        raise ArticleError("declarations are not allowed in an article")

    def handle_pi(self, data: str) -> None:
        raise ArticleError("processing instructions are not allowed in an article")

    def unknown_decl(self, data: str) -> None:
        raise ArticleError("declarations are not allowed in an article")


def parse(body_html: str) -> list[Node]:
    """The body as Telegraph nodes; raises :class:`ArticleError` for anything outside the
    subset (a tag, an attribute, a link scheme, an unclosed or stray tag) or no text."""
    builder = _TreeBuilder()
    builder.feed(body_html)
    builder.close()
    if builder._stack:
        raise ArticleError(f"<{builder._stack[-1]['tag']}> is never closed")
    if not plain_text(builder.root).strip():
        raise ArticleError("the article has no text")
    return builder.root


def plain_text(nodes: list[Node]) -> str:
    """Every text node, concatenated (no separators): what a reader's eye sees, unlaid."""
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        else:
            out.append(plain_text(node.get("children", [])))
    return "".join(out)


def _blocks(nodes: list[Node], inline: Any, quote: Any = None) -> list[str]:
    """Render block structure: one string per paragraph-like block, ``inline`` for runs;
    ``quote(text)`` wraps a blockquote's blocks (joined by blank lines) when given, else
    they are blocks of their own. Quotes inside a quote are not wrapped again (Telegram's
    blockquote entities do not nest)."""
    blocks: list[str] = []
    run: list[Node] = []

    def flush() -> None:
        text = inline(run).strip()
        if text:
            blocks.append(text)
        run.clear()

    for node in nodes:
        if isinstance(node, dict) and node["tag"] in BLOCK_TAGS:
            flush()
            tag, children = node["tag"], node.get("children", [])
            if tag in ("ul", "ol"):
                items = [c for c in children if isinstance(c, dict) and c["tag"] == "li"]
                lines = []
                for number, item in enumerate(items, start=1):
                    mark = f"{number}." if tag == "ol" else "•"
                    lines.append(f"{mark} " + "\n".join(_blocks(item.get("children", []), inline)))
                if lines:
                    blocks.append("\n".join(lines))
            elif tag == "blockquote" and quote is not None:
                inner = "\n\n".join(_blocks(children, inline))
                if inner:
                    blocks.append(quote(inner))
            else:
                blocks.extend(_blocks(children, inline, quote))
        else:
            run.append(node)
    flush()
    return blocks


def _telegram_inline(nodes: list[Node]) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(escape(node, quote=False))
            continue
        tag, inner = node["tag"], _telegram_inline(node.get("children", []))
        if tag == "br":
            out.append("\n")
        elif tag == "a":
            out.append(f'<a href="{escape(node["attrs"]["href"])}">{inner}</a>')
        elif tag in _TELEGRAM_INLINE:
            out.append(f"<{_TELEGRAM_INLINE[tag]}>{inner}</{_TELEGRAM_INLINE[tag]}>")
        elif tag in ("h3", "h4"):
            out.append(f"<b>{inner}</b>")
        else:
            out.append(inner)
    return "".join(out)


def to_telegram_html(nodes: list[Node], *, title: str | None = None) -> str:
    """The article as one Telegram message in HTML parse mode (``title`` first, bold)."""
    blocks = _blocks(_bold_headings(nodes), _telegram_inline, _telegram_quote)
    if title:
        blocks.insert(0, f"<b>{escape(title, quote=False)}</b>")
    return "\n\n".join(blocks)


def _telegram_quote(text: str) -> str:
    """A blockquote in Telegram's HTML style (Bot API 7.0, ``<blockquote>``)."""
    return f"<blockquote>{text}</blockquote>"


def _bold_headings(nodes: list[Node]) -> list[Node]:
    return [
        {"tag": "p", "children": [{"tag": "b", "children": n.get("children", [])}]}
        if isinstance(n, dict) and n["tag"] in ("h3", "h4")
        else n
        for n in nodes
    ]


def _plain_inline(nodes: list[Node]) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
            continue
        tag, inner = node["tag"], _plain_inline(node.get("children", []))
        if tag == "br":
            out.append("\n")
        elif tag == "a":
            href = node["attrs"]["href"]
            out.append(inner if inner.strip() == href else f"{inner} ({href})")
        else:
            out.append(inner)
    return "".join(out)


def to_plain_text(nodes: list[Node], *, title: str | None = None) -> str:
    """The article as plain text (VK, Instagram): blocks split by blank lines, links spelled out."""
    blocks = _blocks(nodes, _plain_inline)
    if title:
        blocks.insert(0, title)
    return "\n\n".join(blocks)


def lead(nodes: list[Node]) -> str:
    """The first paragraph's plain text (an announcement's teaser); empty if there is none."""
    blocks = _blocks(nodes, _plain_inline)
    return blocks[0] if blocks else ""


def lead_html(nodes: list[Node], limit: int) -> str:
    """The first paragraph as Telegram HTML (an announcement's teaser): its links, bold and
    italic kept as the Bot API parses them (``parse_mode=HTML``), its text (after entity
    parsing) at most ``limit`` UTF-16 units, cut between grapheme clusters at a word with
    "…" when longer (:func:`cachalot_common.telegram_entities.cut`). Empty if there is no
    paragraph. Raises nothing.
    """
    blocks = _blocks(nodes, _telegram_inline)
    if not blocks:
        return ""
    try:
        parsed = parse_text(blocks[0], "html")
    except EntityParseError:  # not expected: the block is our own escaped HTML
        parsed = parse_text(lead(nodes), None)
    return to_html(cut(parsed, limit))


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as Telegram, TikTok and JavaScript count it."""
    return len(text.encode("utf-16-le")) // 2


def telegram_length(message_html: str) -> int:
    """The length Telegram checks: the message's text after entity parsing, in UTF-16 units.

    Parsed as the Bot API parses ``parse_mode=HTML`` (four named entities only,
    cleaned and trimmed: :func:`cachalot_common.telegram_entities.parse_text`);
    HTML Telegram would refuse is counted by its text as a browser reads it.
    """
    try:
        return utf16_len(parse_text(message_html, "html").text)
    except EntityParseError:
        return utf16_length(plain_text(_TelegramText.nodes(message_html)))


class _TelegramText(HTMLParser):
    """Reads back a Telegram HTML message (tags and entities are not counted)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[Node] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @classmethod
    def nodes(cls, message_html: str) -> list[Node]:
        reader = cls()
        reader.feed(message_html)
        reader.close()
        return reader.text
