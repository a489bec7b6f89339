"""Shortening text between whole characters, measured as the receiver measures it.

Every place that cuts text (operator messages, failure reasons, platform error
details, DLQ reasons) goes through :func:`truncate` or :func:`prefix`, so a cut
never falls inside a character as a reader sees it: a keycap (``1`` + U+FE0F +
U+20E3), a ZWJ family, a flag (two regional indicators), an accent written as
a combining mark, or a Hangul syllable spelled in jamo stays whole or goes
whole (issue 11, item 3). The boundaries are Unicode's extended grapheme
clusters (UAX #29), found with the ``regex`` module's ``\\X``, which follows
the Unicode version it ships with; no hand-made list of joining characters.

Length is counted in the unit of the limit being met:

* ``"utf16"``: UTF-16 code units, the unit of Telegram's message (4096) and
  caption (1024) limits and of TikTok's caption limit (2200);
* ``"codepoints"``: Python ``len``, for our own columns and headers, and
  YouTube's title/description, which the Data API counts in characters;
* ``"graphemes"``: characters as a reader counts them.

A cluster's UTF-16 length is never less than its code-point length, which is
never less than 1 grapheme, so a text that fits in UTF-16 units fits in the
other two.
"""

from __future__ import annotations

from typing import Final, Literal

import regex

Count = Literal["graphemes", "utf16", "codepoints"]

ELLIPSIS: Final = "…"

_CLUSTER: Final = regex.compile(r"\X", regex.V1)


def clusters(text: str) -> list[str]:
    """``text`` split into extended grapheme clusters (UAX #29); joined they are ``text``."""
    return _CLUSTER.findall(text)


def length(text: str, count: Count = "codepoints") -> int:
    """The length of ``text`` in ``count`` units (see the module notes for which to use)."""
    if count == "codepoints":
        return len(text)
    if count == "utf16":
        # Lone surrogates (never valid text, but possible in a str) count as one unit.
        return len(text.encode("utf-16-le", "surrogatepass")) // 2
    return len(clusters(text))


def prefix(text: str, limit: int, *, count: Count = "codepoints") -> str:
    """The longest prefix of ``text`` made of whole grapheme clusters within ``limit`` units.

    ``limit`` below zero is read as zero. The result is ``text`` itself when it
    fits, and may be shorter than ``limit`` allows when the next cluster is
    longer than the room left (a 7-code-point family emoji is kept or dropped
    whole).
    """
    if limit <= 0:
        return ""
    if length(text, count) <= limit:
        return text
    used = 0
    end = 0
    for cluster in _CLUSTER.finditer(text):
        size = 1 if count == "graphemes" else length(cluster.group(), count)
        if used + size > limit:
            break
        used += size
        end = cluster.end()
    return text[:end]


def truncate(
    text: str, limit: int, *, count: Count = "codepoints", ellipsis: str = ELLIPSIS
) -> str:
    """``text`` when it fits in ``limit`` units, else whole clusters of it plus ``ellipsis``.

    The result is at most ``limit`` units long (counted with ``count``) and
    always starts with a prefix of ``text`` that ends on a grapheme-cluster
    boundary (UAX #29). When ``limit`` leaves no room for ``ellipsis``, the
    text is cut without it. Raises nothing; ``limit`` below zero gives ``""``.
    """
    if length(text, count) <= limit:
        return text
    mark = length(ellipsis, count)
    if mark > limit:
        return prefix(text, limit, count=count)
    return prefix(text, limit - mark, count=count) + ellipsis
