"""Operator messages as styled spans, rendered for Telegram's HTML or MarkdownV2.

Text a person typed is data, never markup: every span is escaped for the
parse mode, so ``<b>``, ``*``, ``_`` or ``\\`` arrive as the characters the
submitter typed. Lengths are counted on the text Telegram shows (after
entity parsing) in UTF-16 code units, the unit of Telegram's limits, which
is never less than the character count: a message that fits here fits there.
A span marked ``truncatable`` (the submitter's message) gives way first,
cut on a character boundary *before* escaping, so an escape is never split,
and followed by a visible marker saying how much was left out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from typing import Literal

ParseMode = Literal["HTML", "MarkdownV2"]
Style = Literal["plain", "bold", "italic", "code"]

TELEGRAM_TEXT_LIMIT = 4096
"""``sendMessage`` text: 1-4096 characters after entity parsing."""

_MARKDOWN_V2_SPECIAL = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")
_NEWLINES = re.compile(r"\r\n|\r|[\u2028\u2029]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f]")


def escape_html(text: str) -> str:
    """Escape for ``parse_mode=HTML``: ``&``, ``<`` and ``>`` become entities."""
    return html.escape(text, quote=False)


def escape_markdown_v2(text: str) -> str:
    """Escape for ``parse_mode=MarkdownV2``: every special character and ``\\`` itself.

    Valid everywhere (plain text, inside bold, inside code): Telegram reads
    any ``\\`` followed by an ASCII character as that character.
    """
    return _MARKDOWN_V2_SPECIAL.sub(r"\\\1", text)


def visible(text: str) -> str:
    """What the submitter typed, in a form Telegram shows without dropping anything.

    Line breaks of every flavour become ``\\n`` (Telegram deletes ``\\r``); other
    control characters, which Telegram deletes, become their visible
    Unicode "control pictures" (``\\x07`` shows as ``␇``).
    """
    text = _NEWLINES.sub("\n", text)
    return _CONTROLS.sub(_control_picture, text)


def _control_picture(match: re.Match[str]) -> str:
    return chr(0x2400 + ord(match.group()))


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Span:
    """A run of text in one style.

    When the whole is too long, ``optional`` spans (a footer) are dropped
    first, then ``truncatable`` ones (the typed message) are cut.
    """

    text: str
    style: Style = "plain"
    truncatable: bool = False
    optional: bool = False


def render(spans: list[Span], parse_mode: ParseMode) -> str:
    """The ``text`` to send with ``parse_mode``."""
    return "".join(_render_span(span, parse_mode) for span in _merged(spans))


def _merged(spans: list[Span]) -> list[Span]:
    """Join neighbours of one style, so two marks never touch (``_a__b_`` is underline)."""
    merged: list[Span] = []
    for span in spans:
        if not span.text:
            continue
        if merged and merged[-1].style == span.style:
            merged[-1] = replace(merged[-1], text=merged[-1].text + span.text)
        else:
            merged.append(span)
    return merged


def _render_span(span: Span, parse_mode: ParseMode) -> str:
    if parse_mode == "HTML":
        body = escape_html(span.text)
        tag = {"plain": "", "bold": "b", "italic": "i", "code": "code"}[span.style]
        return f"<{tag}>{body}</{tag}>" if tag else body
    body = escape_markdown_v2(span.text)
    mark = {"plain": "", "bold": "*", "italic": "_", "code": "`"}[span.style]
    return f"{mark}{body}{mark}"


def shown_text(spans: list[Span]) -> str:
    """The text Telegram will show for ``spans`` (before its whitespace trim)."""
    return "".join(span.text for span in spans)


def fit(spans: list[Span], limit: int = TELEGRAM_TEXT_LIMIT) -> list[Span]:
    """Drop optional spans, then cut truncatable ones (last first), to fit ``limit`` units."""
    if utf16_len(shown_text(spans)) <= limit:
        return spans
    result = [span for span in spans if not span.optional]
    excess = utf16_len(shown_text(result)) - limit
    for index in reversed(range(len(result))):
        span = result[index]
        if excess <= 0:
            break
        if not span.truncatable or not span.text:
            continue
        marker_for = _marker(utf16_len(span.text))
        keep = max(utf16_len(span.text) - excess - utf16_len(marker_for), 0)
        kept = _prefix(span.text, keep)
        dropped = len(span.text) - len(kept)
        cut = replace(span, text=kept)
        marker = Span(_marker(dropped), "italic")
        result[index : index + 1] = [cut, marker]
        excess = utf16_len(shown_text(result)) - limit
    if excess > 0:
        raise ValueError(f"message cannot be cut to {limit} characters")
    return result


def _marker(dropped: int) -> str:
    return f" … [cut: {dropped} more characters]"


def _prefix(text: str, units: int) -> str:
    """The longest prefix of ``text`` within ``units`` UTF-16 units, not ending inside a
    combining sequence (a ZWJ, variation selector or combining mark stays with its base)."""
    total = 0
    end = 0
    for index, char in enumerate(text):
        size = 2 if ord(char) > 0xFFFF else 1
        if total + size > units:
            break
        total += size
        end = index + 1
    while 0 < end < len(text) and _joins_previous(text[end]):
        end -= 1
    while end > 0 and text[end - 1] == "\u200d":
        end -= 2
    return text[: max(end, 0)]


def _joins_previous(char: str) -> bool:
    code = ord(char)
    return (
        code == 0x200D
        or 0xFE00 <= code <= 0xFE0F
        or 0x0300 <= code <= 0x036F
        or 0x1F3FB <= code <= 0x1F3FF
        or 0xE0020 <= code <= 0xE007F
    )
