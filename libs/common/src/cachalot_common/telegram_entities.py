"""Telegram's text formatting: MarkdownV2, HTML and legacy Markdown to text + entities.

A faithful fake must refuse what Telegram refuses, with Telegram's words, so
a client that escapes badly fails here and not in production. The parsers
follow the Bot API's "Formatting options" and the behaviour of TDLib's
``parse_markdown_v2``/``parse_html`` (the code behind the Bot API): errors
name the character or tag and its UTF-8 byte offset, entities carry UTF-16
offsets and lengths, empty entities are dropped, and the result is cleaned
and trimmed the way Telegram stores a message.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from cachalot_common.text import prefix

MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
"""Characters that must be escaped with ``\\`` outside entities (MarkdownV2)."""

HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
}
_NAMED_HTML_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TRIM = " \t\n\r"
# Removed by Telegram before storing text: C0 controls except \t and \n, \r,
# line/paragraph separators and bidi overrides (U+2028-U+202E), and three
# combining marks used to draw vertical lines over text.
_CLEAN = re.compile("[\x00-\x08\x0b-\x1f\u2028-\u202e\u0333\u033f\u030a]")


class EntityParseError(ValueError):
    """The text does not parse in its parse mode; ``str()`` is Telegram's wording."""


@dataclass
class ParsedText:
    """Plain text as Telegram shows it, and the formatting entities on it."""

    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's offsets and limits."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


class _Builder:
    """Accumulates plain text and entities with UTF-16 offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offset = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, chars: str) -> None:
        self.parts.append(chars)
        self.offset += utf16_len(chars)

    def entity(self, type_: str, start: int, **extra: Any) -> None:
        length = self.offset - start
        if length > 0:
            self.entities.append({"type": type_, "offset": start, "length": length, **extra})

    def text_since(self, start_part: int) -> str:
        return "".join(self.parts[start_part:])

    def result(self) -> ParsedText:
        return ParsedText("".join(self.parts), self.entities)


# --- MarkdownV2 -------------------------------------------------------------------------


@dataclass
class _Open:
    type: str
    offset: int
    byte_offset: int
    part_index: int
    argument: str = ""


_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
    "blockquote": "BlockQuote",
    "expandable_blockquote": "ExpandableBlockQuote",
}


def _reserved(char: str) -> EntityParseError:
    return EntityParseError(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def _unclosed(entity: _Open) -> EntityParseError:
    name = _MDV2_NAMES[entity.type]
    if entity.type == "pre" and entity.argument:
        name = "PreCode"
    return EntityParseError(f"Can't find end of {name} entity at byte offset {entity.byte_offset}")


def _is_escape(text: str, i: int) -> bool:
    return text[i] == "\\" and i + 1 < len(text) and 0 < ord(text[i + 1]) <= 126


def parse_markdown_v2(text: str) -> ParsedText:
    """MarkdownV2 as the Bot API documents it (and TDLib implements it)."""
    out = _Builder()
    stack: list[_Open] = []
    quote: _Open | None = None
    n = len(text)
    i = 0
    while i < n:
        char = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if _is_escape(text, i):
            out.add(text[i + 1])
            i += 2
            continue
        in_code = bool(stack) and stack[-1].type in ("code", "pre")
        if char == "\n" and quote is not None and not in_code:
            # a block quote runs over consecutive lines starting with '>'
            if not text.startswith(">", i + 1) or (
                quote.type == "expandable_blockquote" and quote.argument == "closed"
            ):
                _close_quote(out, stack, quote)
                quote = None
            out.add(char)
            i += 1
            continue
        if at_line_start and not in_code and char == ">":
            if quote is None:
                quote = _Open("blockquote", out.offset, _byte_offset(text, i), len(out.parts))
            i += 1
            continue
        if at_line_start and not in_code and quote is None and text.startswith("**>", i):
            offset = _byte_offset(text, i)
            quote = _Open("expandable_blockquote", out.offset, offset, len(out.parts))
            i += 3
            continue
        if (
            quote is not None
            and quote.type == "expandable_blockquote"
            and not in_code
            and text.startswith("||", i)
            and (i + 2 == n or text[i + 2] == "\n")
            and not (stack and stack[-1].type == "spoiler")
        ):
            quote.argument = "closed"
            i += 2
            continue
        reserved = "`" if in_code else MARKDOWN_V2_RESERVED
        if char not in reserved:
            out.add(char)
            i += 1
            continue
        top = stack[-1] if stack else None
        if top is not None and _ends(top, text, i):
            i = _close_mdv2(text, i, out, stack)
            continue
        i = _open_mdv2(text, i, out, stack)
    if stack:
        raise _unclosed(stack[-1])
    if quote is not None:
        _close_quote(out, stack, quote)
    return out.result()


def _close_quote(out: _Builder, stack: list[_Open], quote: _Open) -> None:
    inner = [e for e in stack if e.offset >= quote.offset]
    if inner:
        raise _unclosed(inner[-1])
    out.entity(quote.type, quote.offset)


def _ends(top: _Open, text: str, i: int) -> bool:
    char = text[i]
    nxt = text[i + 1] if i + 1 < len(text) else ""
    match top.type:
        case "bold":
            return char == "*"
        case "italic":
            return char == "_" and nxt != "_"
        case "underline":
            return char == "_" and nxt == "_"
        case "strikethrough":
            return char == "~"
        case "spoiler":
            return char == "|" and nxt == "|"
        case "code":
            return char == "`"
        case "pre":
            return text.startswith("```", i)
        case "text_link" | "custom_emoji":
            return char == "]"
    return False


def _open_mdv2(text: str, i: int, out: _Builder, stack: list[_Open]) -> int:
    char = text[i]
    start = _Open("", out.offset, _byte_offset(text, i), len(out.parts))
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if char == "_" and nxt == "_":
        start.type, i = "underline", i + 2
    elif char in "_*~":
        start.type, i = {"_": "italic", "*": "bold", "~": "strikethrough"}[char], i + 1
    elif char == "|" and nxt == "|":
        start.type, i = "spoiler", i + 2
    elif char == "[":
        start.type, i = "text_link", i + 1
    elif char == "!" and nxt == "[":
        start.type, i = "custom_emoji", i + 2
    elif char == "`" and text.startswith("```", i):
        start.type, i = "pre", i + 3
        end = i
        while end < len(text) and not text[end].isspace() and text[end] != "`":
            end += 1
        if end != i and end < len(text) and text[end] != "`":
            start.argument, i = text[i:end], end
        if text.startswith(("\r\n", "\n\r"), i):
            i += 2
        elif i < len(text) and text[i] in "\r\n":
            i += 1
    elif char == "`":
        start.type, i = "code", i + 1
    else:
        raise _reserved(char)
    stack.append(start)
    return i


def _close_mdv2(text: str, i: int, out: _Builder, stack: list[_Open]) -> int:
    entity = stack.pop()
    extra: dict[str, Any] = {}
    if entity.type in ("underline", "spoiler"):
        i += 2
    elif entity.type == "pre":
        i += 3
        if entity.argument:
            extra["language"] = entity.argument
    elif entity.type in ("text_link", "custom_emoji"):
        i += 1
        url = out.text_since(entity.part_index)
        if i < len(text) and text[i] == "(":
            url_start = i + 1
            url, i = _read_url(text, url_start)
        if entity.type == "custom_emoji":
            match = re.fullmatch(r"tg://emoji\?id=(\d+)", url)
            if match is None:
                raise EntityParseError("Custom emoji entity must contain a tg://emoji URL")
            extra["custom_emoji_id"] = match.group(1)
        elif not url.strip():
            return i
        else:
            extra["url"] = url
    else:
        i += 1
    out.entity(entity.type, entity.offset, **extra)
    return i


def _read_url(text: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    i = start
    while i < len(text) and text[i] != ")":
        if _is_escape(text, i):
            chars.append(text[i + 1])
            i += 2
            continue
        chars.append(text[i])
        i += 1
    if i >= len(text):
        offset = _byte_offset(text, start)
        raise EntityParseError(f"Can't find end of a URL at byte offset {offset}")
    return "".join(chars), i + 1


# --- HTML -------------------------------------------------------------------------------


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """``&name;`` / ``&#nn;`` / ``&#xhh;`` at ``i``; unknown ones stay literal text."""
    match = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{2,8}));").match(text, i)
    if match is None:
        return None
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        value = _NAMED_HTML_ENTITIES.get(name)
        return (value, match.end()) if value is not None else None
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


@dataclass
class _Tag:
    name: str
    offset: int
    part_index: int
    attributes: dict[str, str]


def parse_html(text: str) -> ParsedText:
    """The Bot API's HTML style: a small set of tags and four named entities."""
    out = _Builder()
    stack: list[_Tag] = []
    n = len(text)
    i = 0
    while i < n:
        char = text[i]
        if char == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                out.add(decoded[0])
                i = decoded[1]
                continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        begin = _byte_offset(text, i)
        if i + 1 < n and text[i + 1] == "/":
            i = _html_end_tag(text, i, begin, out, stack)
        else:
            i = _html_start_tag(text, i, begin, out, stack)
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.result()


def _html_start_tag(text: str, i: int, begin: int, out: _Builder, stack: list[_Tag]) -> int:
    n = len(text)
    j = i + 1
    while j < n and not text[j].isspace() and text[j] != ">":
        j += 1
    if j >= n:
        raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
    name = text[i + 1 : j].lower()
    if name not in HTML_TAGS:
        raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {begin}')
    attributes: dict[str, str] = {}
    while True:
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
        if text[j] == ">":
            break
        attr_start = j
        while j < n and not text[j].isspace() and text[j] not in "=>":
            j += 1
        attribute = text[attr_start:j].lower()
        while j < n and text[j].isspace():
            j += 1
        if j >= n or text[j] != "=":
            if name == "blockquote" and attribute == "expandable":
                attributes[attribute] = ""
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                f"at byte offset {begin}"
            )
        j += 1
        while j < n and text[j].isspace():
            j += 1
        if j >= n:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
        value, j = _html_attribute_value(text, j, name, begin)
        attributes[attribute] = value
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise EntityParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
    stack.append(_Tag(name, out.offset, len(out.parts), attributes))
    return j + 1


def _html_attribute_value(text: str, j: int, name: str, begin: int) -> tuple[str, int]:
    n = len(text)
    chars: list[str] = []
    if text[j] in "'\"":
        quote_char = text[j]
        j += 1
        while j < n and text[j] != quote_char:
            decoded = _decode_entity(text, j) if text[j] == "&" else None
            if decoded is not None:
                chars.append(decoded[0])
                j = decoded[1]
                continue
            chars.append(text[j])
            j += 1
        if j >= n:
            raise EntityParseError(f'Unclosed start tag "{name}" at byte offset {begin}')
        return "".join(chars), j + 1
    while j < n and (text[j].isalnum() or text[j] in "_-.:/?#&=%+~"):
        chars.append(text[j])
        j += 1
    if not chars:
        raise EntityParseError(
            f'Expected quote or a name token in the value of an attribute of the tag "{name}" '
            f"at byte offset {begin}"
        )
    return "".join(chars), j


def _html_end_tag(text: str, i: int, begin: int, out: _Builder, stack: list[_Tag]) -> int:
    n = len(text)
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
    j = i + 2
    while j < n and not text[j].isspace() and text[j] != ">":
        j += 1
    end_name = text[i + 2 : j].lower()
    while j < n and text[j].isspace():
        j += 1
    if j >= n or text[j] != ">":
        raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
    tag = stack.pop()
    if end_name and end_name != tag.name:
        raise EntityParseError(
            f'Unmatched end tag at byte offset {begin}, expected "</{tag.name}>", '
            f'found "</{end_name}>"'
        )
    _html_entity(tag, out, stack)
    return j + 1


def _html_entity(tag: _Tag, out: _Builder, stack: list[_Tag]) -> None:
    type_ = _HTML_ENTITY_TYPES[tag.name]
    extra: dict[str, Any] = {}
    if tag.name == "a":
        url = tag.attributes.get("href", "") or out.text_since(tag.part_index)
        if not url.strip():
            return
        extra["url"] = url
    elif tag.name == "tg-emoji":
        emoji_id = tag.attributes.get("emoji-id", "")
        if not emoji_id.isdigit():
            raise EntityParseError("Custom emoji entity must have a valid emoji-id")
        extra["custom_emoji_id"] = emoji_id
    elif tag.name == "code":
        language = tag.attributes.get("class", "")
        parent = stack[-1] if stack else None
        if parent is not None and parent.name == "pre" and language.startswith("language-"):
            parent.attributes["language"] = language.removeprefix("language-")
            return
    elif tag.name == "pre" and tag.attributes.get("language"):
        extra["language"] = tag.attributes["language"]
    elif tag.name == "blockquote" and "expandable" in tag.attributes:
        type_ = "expandable_blockquote"
    out.entity(type_, tag.offset, **extra)


# --- legacy Markdown --------------------------------------------------------------------


def parse_markdown(text: str) -> ParsedText:
    """Legacy Markdown: ``*bold*``, ``_italic_``, `` `code` ``, ``` ``` ```pre```, links."""
    out = _Builder()
    n = len(text)
    i = 0
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        begin = _byte_offset(text, i)
        start = out.offset
        if char == "[":
            close = text.find("]", i + 1)
            if close < 0 or not text.startswith("(", close + 1) or text.find(")", close) < 0:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {begin}"
                )
            end = text.find(")", close)
            out.add(text[i + 1 : close])
            out.entity("text_link", start, url=text[close + 2 : end])
            i = end + 1
            continue
        fence = "```" if text.startswith("```", i) else char
        end = text.find(fence, i + len(fence))
        if end < 0:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {begin}")
        inner = text[i + len(fence) : end]
        type_ = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}[fence]
        if fence == "```":
            first, newline, rest = inner.partition("\n")
            extra = {"language": first} if newline and first and " " not in first else {}
            inner = rest if extra else inner
            out.add(inner)
            out.entity(type_, start, **extra)
        else:
            out.add(inner)
            out.entity(type_, start)
        i = end + len(fence)
    return out.result()


# --- the whole pipeline -----------------------------------------------------------------

PARSERS = {"markdownv2": parse_markdown_v2, "html": parse_html, "markdown": parse_markdown}


def parse_text(text: str, parse_mode: str | None) -> ParsedText:
    """Parse ``text`` in ``parse_mode`` (case-insensitive; None = plain), then clean and trim.

    Raises :class:`EntityParseError` (Telegram's description, without the
    "Bad Request: can't parse entities: " prefix) or ``KeyError`` for an
    unknown parse mode.
    """
    cleaned = _CLEAN.sub("", text)
    parsed = PARSERS[parse_mode.lower()](cleaned) if parse_mode else ParsedText(cleaned)
    return _trim(parsed)


def _trim(parsed: ParsedText) -> ParsedText:
    """Telegram drops leading and trailing whitespace and shifts entities to match."""
    stripped = parsed.text.strip(_TRIM)
    if stripped == parsed.text:
        return ParsedText(parsed.text, sorted(parsed.entities, key=_entity_order))
    lead = utf16_len(parsed.text[: len(parsed.text) - len(parsed.text.lstrip(_TRIM))])
    total = utf16_len(stripped)
    entities = []
    for entity in parsed.entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            entities.append({**entity, "offset": start, "length": end - start})
    return ParsedText(stripped, sorted(entities, key=_entity_order))


def _entity_order(entity: dict[str, Any]) -> tuple[int, int]:
    return entity["offset"], -entity["length"]


# --- back to HTML, and cutting -----------------------------------------------------------

_HTML_OF_ENTITY = {
    "bold": ("<b>", "</b>"),
    "italic": ("<i>", "</i>"),
    "underline": ("<u>", "</u>"),
    "strikethrough": ("<s>", "</s>"),
    "spoiler": ("<tg-spoiler>", "</tg-spoiler>"),
    "code": ("<code>", "</code>"),
    "pre": ("<pre>", "</pre>"),
    "blockquote": ("<blockquote>", "</blockquote>"),
    "expandable_blockquote": ("<blockquote expandable>", "</blockquote>"),
}


def _open_tag(entity: dict[str, Any]) -> str:
    if entity["type"] == "text_link":
        return f'<a href="{html.escape(str(entity["url"]), quote=True)}">'
    if entity["type"] == "custom_emoji":
        return f'<tg-emoji emoji-id="{html.escape(str(entity["custom_emoji_id"]))}">'
    if entity["type"] == "pre" and entity.get("language"):
        language = html.escape(str(entity["language"]), quote=True)
        return f'<pre><code class="language-{language}">'
    return _HTML_OF_ENTITY[entity["type"]][0]


def _close_tag(entity: dict[str, Any]) -> str:
    if entity["type"] == "text_link":
        return "</a>"
    if entity["type"] == "custom_emoji":
        return "</tg-emoji>"
    if entity["type"] == "pre" and entity.get("language"):
        return "</code></pre>"
    return _HTML_OF_ENTITY[entity["type"]][1]


def _renders(entity: dict[str, Any]) -> bool:
    return entity["type"] in _HTML_OF_ENTITY or entity["type"] in ("text_link", "custom_emoji")


def to_html(parsed: ParsedText) -> str:
    """``parsed`` written back as Bot API HTML: :func:`parse_html` of the result gives the
    same text and entities (for the entity types HTML can spell: bold, italic, underline,
    strikethrough, spoiler, code, pre, blockquote, text links, custom emoji; others such as
    ``mention`` or ``url`` are found by Telegram itself and left out). Entities that cross
    are closed and opened again around the crossing. Offsets are UTF-16 units.
    """
    entities = sorted((e for e in parsed.entities if _renders(e)), key=_entity_order)
    out: list[str] = []
    stack: list[dict[str, Any]] = []
    pending = 0  # index into ``entities`` of the next one to open

    def at(offset: int) -> None:
        nonlocal pending
        if any(e["offset"] + e["length"] <= offset for e in stack):
            reopen: list[dict[str, Any]] = []
            while any(e["offset"] + e["length"] <= offset for e in stack):
                top = stack.pop()
                out.append(_close_tag(top))
                if top["offset"] + top["length"] > offset:
                    reopen.append(top)
            for entity in reversed(reopen):
                out.append(_open_tag(entity))
                stack.append(entity)
        while pending < len(entities) and entities[pending]["offset"] <= offset:
            entity = entities[pending]
            pending += 1
            if entity["length"] > 0:
                out.append(_open_tag(entity))
                stack.append(entity)

    offset = 0
    for char in parsed.text:
        at(offset)
        out.append(html.escape(char, quote=False))
        offset += utf16_len(char)
    at(offset)
    while stack:
        out.append(_close_tag(stack.pop()))
    return "".join(out)


def cut(parsed: ParsedText, limit: int, *, ellipsis: str = "…") -> ParsedText:
    """``parsed`` when its text fits ``limit`` UTF-16 units, else a shorter copy ending in
    ``ellipsis`` whose text (ellipsis included) fits.

    The text is cut between grapheme clusters (UAX #29, :func:`cachalot_common.text.prefix`:
    a flag, a family emoji or a letter with its accents is kept or dropped whole), at the
    last space or line break when one is in the second half of what fits (so words stay
    whole), and trailing whitespace is dropped. Entities are clipped to what is kept (a link
    cut in its text still leads to its URL) and those left empty are dropped; the ellipsis
    is outside every entity. ``limit`` smaller than the ellipsis gives an empty text.
    """
    if utf16_len(parsed.text) <= limit:
        return parsed
    room = limit - utf16_len(ellipsis)
    if room <= 0:
        return ParsedText("")
    head = prefix(parsed.text, room, count="utf16")
    ends_a_word = parsed.text[len(head) : len(head) + 1].isspace()
    space = max(head.rfind(" "), head.rfind("\n"))
    if not ends_a_word and space > len(head) // 2:
        head = head[:space]
    head = head.rstrip(_TRIM)
    end = utf16_len(head)
    entities = []
    for entity in parsed.entities:
        stop = min(entity["offset"] + entity["length"], end)
        if stop > entity["offset"]:
            entities.append({**entity, "length": stop - entity["offset"]})
    return ParsedText(head + ellipsis, sorted(entities, key=_entity_order))
