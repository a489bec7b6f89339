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

import unicodedata
from typing import Final, Literal

import regex
from pydantic import BaseModel, ValidationInfo, field_validator

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


# ---------------------------------------------------------------- invisible characters
#
# Issue 11 (A3): a contact message holding U+202E RIGHT-TO-LEFT OVERRIDE reached
# the operator's Telegram and reordered what the operator read ("Trojan Source",
# CVE-2021-42574). Unicode's bidirectional algorithm (UAX #9 §2) lets these
# explicit formatting characters reorder the text after them; a reader cannot see
# them. Text from a client or the public is shown to the operator only through
# :func:`reveal_invisible`.

#: UAX #9 explicit directional formatting characters and the implicit marks:
#: ALM, LRM, RLM, LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI.
BIDI_CONTROLS: Final = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_ZWJ: Final = "\u200d"
_ZWNJ: Final = "\u200c"
_BLACK_FLAG: Final = "\U0001f3f4"
_CANCEL_TAG: Final = "\U000e007f"
#: Format characters that draw a visible sign (Unicode's
#: Prepended_Concatenation_Mark: the Arabic number signs, Syriac abbreviation mark...).
VISIBLE_FORMAT: Final = frozenset(
    "\u0600\u0601\u0602\u0603\u0604\u0605\u06dd\u070f\u0890\u0891\u08e2\U000110bd\U000110cd"
)


def shown_code(char: str) -> str:
    """``char`` as a visible code: ``⟨U+202E⟩``."""
    return f"⟨U+{ord(char):04X}⟩"


def _is_tag(char: str) -> bool:
    return "\U000e0020" <= char <= _CANCEL_TAG


def _kept(char: str, index: int, flag: bool) -> bool:
    """Whether ``char``, at ``index`` in its cluster (a flag tag sequence or not), is kept."""
    if char in BIDI_CONTROLS:
        return False
    if unicodedata.category(char) != "Cf" or char in VISIBLE_FORMAT:
        return True
    if index == 0:
        return False
    return char in (_ZWJ, _ZWNJ) or (flag and _is_tag(char))


def reveal_invisible(text: str) -> str:
    """``text`` with every invisible format character a reader could be fooled by made visible.

    Each is replaced by its code, ``⟨U+XXXX⟩`` (:func:`shown_code`):

    * every bidirectional control (:data:`BIDI_CONTROLS`, UAX #9): they can
      reorder what follows them, so they are never passed on;
    * every other format character (general category ``Cf``: zero-width
      space, word joiner, soft hyphen, BOM, invisible operators, interlinear
      annotation, the language tag...), which draws nothing;

    except those that are part of how a character is written, kept inside
    their grapheme cluster (UAX #29): ZWJ and ZWNJ after a base (emoji ZWJ
    sequences, Persian and Indic spelling), tag characters inside a flag tag
    sequence (🏴 + tags + U+E007F, as in the flag of Scotland), and the
    format characters that draw a sign (Prepended_Concatenation_Mark). A
    ZWJ, ZWNJ or tag that starts a cluster, or tags outside a flag (text
    hidden in tag characters), are shown as codes. Other characters,
    controls included (the caller shows those its own way), are unchanged.
    """
    if text.isascii():
        return text
    out: list[str] = []
    for cluster in clusters(text):
        flag = cluster.startswith(_BLACK_FLAG) and cluster.endswith(_CANCEL_TAG)
        for index, char in enumerate(cluster):
            out.append(char if _kept(char, index, flag) else shown_code(char))
    return "".join(out)


BLANK_LETTERS: Final = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
"""Characters of letter or symbol classes that draw nothing (Hangul fillers, the
blank Braille pattern, the Mongolian vowel separator): used to fake a non-empty text."""

_UNSEEN_CATEGORIES: Final = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs"})


def has_visible(text: str) -> bool:
    """Whether ``text`` has a character a reader can see.

    Not seen: white space and separators (``Zs``, ``Zl``, ``Zp``), controls (``Cc``),
    format characters (``Cf``: zero-width space, joiners, BOM, bidirectional controls),
    lone surrogates, the blank letters of :data:`BLANK_LETTERS`, and combining marks
    (``M*``: what is seen is their base, so marks on a space or alone do not count).
    Unassigned code points count as seen (an emoji newer than this Python's Unicode). ``"   "``,
    ``"\\u200b\\u200b"`` and ``"\\u3164"`` have none; ``"a"``, ``"🙂"`` and ``"."`` do.
    """
    for cluster in clusters(text):
        for char in cluster:
            if char in BLANK_LETTERS:
                continue
            category = unicodedata.category(char)
            if category in _UNSEEN_CATEGORIES or category.startswith("M"):
                continue
            return True
    return False


# ---------------------------------------------------------------- text a client sends
#
# Issue 10 (fresh-user try): an article title of "  \u200b " was queued, and a NUL in a
# caption was forwarded to VK and Telegram. One rule for every text field the API takes
# (:class:`CheckedText`): no control character but a line break or a tab, and a field that
# must have content (``min_length`` ≥ 1) must have something a reader can see.

#: Control characters text may hold: tab, line feed, carriage return (CRLF line ends).
ALLOWED_CONTROLS: Final = frozenset("\t\n\r")


def is_blank(text: str) -> bool:
    """Whether ``text`` shows nothing (not :func:`has_visible`): only white space, format
    characters (category Cf: U+200B ZERO WIDTH SPACE, U+FEFF...), controls, combining marks
    and blank letters."""
    return not has_visible(text)


def text_problem(text: str, *, required: bool = False) -> str | None:
    """Why ``text`` may not be sent to a platform, or ``None`` when it may.

    Refused: a control character (Unicode category Cc: C0, DEL, C1) other than
    :data:`ALLOWED_CONTROLS` — NUL ends a C string at the receiver, and the others are
    not text (Unicode §23.1); with ``required``, a text that :func:`is_blank`.
    """
    for index, char in enumerate(text):
        if unicodedata.category(char) == "Cc" and char not in ALLOWED_CONTROLS:
            return (
                f"contains the control character U+{ord(char):04X} at character {index + 1}; "
                "text may hold line breaks and tabs but no other control character"
            )
    if required and is_blank(text):
        return "must have visible text; it holds only spaces or invisible characters"
    return None


class CheckedText(BaseModel):
    """Base of every input model whose strings a client writes: each ``str`` field (and each
    string of a ``list[str]``) passes :func:`text_problem`, ``required`` when the field has
    ``min_length`` ≥ 1; a failure is a validation error at the field (422 naming it)."""

    @field_validator("*", mode="after")
    @classmethod
    def _text_is_sendable(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            texts = [value]
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            texts = list(value)
        else:
            return value
        name = info.field_name
        spec = cls.model_fields.get(name) if name is not None else None
        required = spec is not None and any(getattr(m, "min_length", 0) >= 1 for m in spec.metadata)
        for text in texts:
            problem = text_problem(text, required=required and isinstance(value, str))
            if problem is not None:
                raise ValueError(problem)
        return value
