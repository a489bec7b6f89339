"""Operator messages as styled spans, rendered for Telegram's HTML or MarkdownV2.

Text a person typed is data, never markup: every span is escaped for the
parse mode, so ``<b>``, ``*``, ``_`` or ``\\`` arrive as the characters the
submitter typed. Lengths are counted on the text Telegram shows (after
entity parsing) in UTF-16 code units, the unit of Telegram's limits, which
is never less than the character count: a message that fits here fits there.
A span marked ``truncatable`` (the submitter's message) gives way first,
cut *before* escaping, so an escape is never split, between whole characters
as a reader sees them (extended grapheme clusters, UAX #29, through
:func:`cachalot_common.text.prefix`), and followed by a visible marker saying
how many characters were left out.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from typing import Literal

from cachalot_common.text import length, prefix, reveal_invisible

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
    Unicode "control pictures" (``\\x07`` shows as ``␇``); bidirectional
    controls and other invisible format characters become their codes
    (``⟨U+202E⟩``, :func:`cachalot_common.text.reveal_invisible`), so what
    the operator reads is in the order it was typed (issue 11: "Trojan
    Source", CVE-2021-42574).
    """
    text = _NEWLINES.sub("\n", text)
    return reveal_invisible(_CONTROLS.sub(_control_picture, text))


def _control_picture(match: re.Match[str]) -> str:
    return chr(0x2400 + ord(match.group()))


def utf16_len(text: str) -> int:
    """``text``'s length in UTF-16 code units, the unit of Telegram's limits."""
    return length(text, "utf16")


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
        kept = prefix(span.text, keep, count="utf16")
        dropped = length(span.text[len(kept) :], "graphemes")
        cut = replace(span, text=kept)
        marker = Span(_marker(dropped), "italic")
        result[index : index + 1] = [cut, marker]
        excess = utf16_len(shown_text(result)) - limit
    if excess > 0:
        raise ValueError(f"message cannot be cut to {limit} characters")
    return result


def _marker(dropped: int) -> str:
    return f" … [cut: {dropped} more characters]"


REPEAT_NOTICE = (
    "⚠ Possibly a repeat: the notifier stopped while sending this message before, so it "
    "may already be above (same event id)."
)
"""The first line of a message whose earlier send has an unknown outcome (deliveries.py)."""


def repeat_notice(
    text: str, plain_text: str, parse_mode: ParseMode | None, limit: int = TELEGRAM_TEXT_LIMIT
) -> tuple[str, ParseMode | None]:
    """``text`` (rendered for ``parse_mode``; ``plain_text`` is what it shows) headed by
    :data:`REPEAT_NOTICE`: the text and parse mode to send. Within ``limit`` UTF-16
    units as shown: when the notice would push it over, the plain text is sent, its end
    cut (with the usual marker) to make room."""
    head = [Span(REPEAT_NOTICE, "bold"), Span("\n\n")]
    if utf16_len(shown_text(head)) + utf16_len(plain_text) <= limit:
        if parse_mode is None:
            return shown_text(head) + text, None
        return render(head, parse_mode) + text, parse_mode
    spans = fit([*head, Span(plain_text, truncatable=True)], limit)
    return shown_text(spans), None
