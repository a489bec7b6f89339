"""The largest JSON text a schema allows, however a client escapes it.

Issue 11: the contact form's byte cap (16 KiB) counted raw JSON bytes, so a
3,999-character message sent ASCII-escaped (``\\u044f`` per Cyrillic letter,
as ``JSON.stringify`` does not but many clients and ``json.dumps`` do) was
refused 413 although within the form's 4,000-character limit. The rule since:

- the limit a person sees (characters) is checked on the decoded text, by
  the schema (pydantic ``max_length``: a 422 naming the field);
- the byte cap stays, as a guard against bodies nobody should send, and is
  sized by :func:`worst_case_json_bytes` from the schema's own maxima.

Worst case per JSON value (RFC 8259 §7: any character may be written as
``\\uXXXX``; one outside the BMP as a surrogate pair, ``\\uD83D\\uDE00``):

- a string of at most ``maxLength`` characters (code points, as pydantic
  counts them): ``2 + 12 × maxLength`` bytes; with a known ``format`` and no
  ``maxLength`` (uuid, date-time...): that format's longest, each character
  escaped (6 bytes: they are ASCII);
- a number: :data:`NUMBER_BYTES`; ``true``/``false``/``null``: 5/4;
- ``enum``/``const``: the longest value, escaped;
- an array of at most ``maxItems``: the items and their commas; an array of
  strings whose characters add up to at most :data:`TOTAL_CHARS` (a schema
  extension: YouTube's tags, 500 characters together) counts those characters
  once, not ``maxLength`` for every item;
- an object: every declared property (key escaped, colon, value, comma); an
  object that allows properties it does not declare is unbounded;
- ``anyOf``/``oneOf``/``allOf``: the largest alternative;
- whitespace (RFC 8259 §2 allows any amount between tokens): a pretty-printer's
  share, :data:`WHITESPACE_PER_VALUE` bytes per value.

An unbounded schema (a string without ``maxLength``, an array without
``maxItems``, free-form objects) has no worst case: ``None``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

ESCAPED_CHAR_BYTES: Final = 12  # "\\uD83D\\uDE00": one code point outside the BMP
ESCAPED_ASCII_BYTES: Final = 6  # "\\u0041"
NUMBER_BYTES: Final = 32  # "-1.7976931348623157e+308" and room
WHITESPACE_PER_VALUE: Final = 16  # a newline and indentation before each value
TOTAL_CHARS: Final = "x-max-total-chars"
"""Schema extension of an array of strings: its items' characters add up to at most this."""
# The longest text of each string format pydantic documents without a maxLength.
FORMAT_CHARS: Final[Mapping[str, int]] = {
    "uuid": 36,
    "date-time": 40,
    "date": 10,
    "time": 24,
    "duration": 64,
    "email": 320,  # RFC 5321 §4.5.3.1: 64 + @ + 255
    "uri": 2083,
}


def worst_case_json_bytes(schema: Mapping[str, Any], document: Mapping[str, Any]) -> int | None:
    """The most bytes a JSON text valid for ``schema`` can take; ``None`` if unbounded.

    ``document``: where ``$ref`` points resolve (an OpenAPI document, whose
    refs are ``#/components/schemas/X``, or a pydantic JSON schema with its
    ``$defs``). Cycles are unbounded.
    """
    return _size(schema, document, ())


def _resolve(ref: str, document: Mapping[str, Any]) -> Mapping[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    resolved: Mapping[str, Any] = node
    return resolved


def _escaped(value: Any) -> int:
    """A known value's longest spelling: a string with every character escaped."""
    if isinstance(value, str):
        return 2 + ESCAPED_CHAR_BYTES * len(value)
    return len(json.dumps(value))


def _size(
    schema: Mapping[str, Any], document: Mapping[str, Any], seen: tuple[str, ...]
) -> int | None:
    if "$ref" in schema:
        ref = schema["$ref"]
        if ref in seen:
            return None
        return _size(_resolve(ref, document), document, (*seen, ref))
    if "const" in schema:
        return _escaped(schema["const"]) + WHITESPACE_PER_VALUE
    if "enum" in schema:
        return max(_escaped(value) for value in schema["enum"]) + WHITESPACE_PER_VALUE
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            sizes = [_size(option, document, seen) for option in schema[key]]
            return None if any(s is None for s in sizes) else max(s for s in sizes if s is not None)
    kind = schema.get("type")
    if isinstance(kind, list):
        sizes = [_size({**schema, "type": one}, document, seen) for one in kind]
        return None if any(s is None for s in sizes) else max(s for s in sizes if s is not None)
    if kind == "string":
        if "maxLength" in schema:
            chars = int(schema["maxLength"]) * ESCAPED_CHAR_BYTES
        elif schema.get("format") in FORMAT_CHARS:
            chars = FORMAT_CHARS[schema["format"]] * ESCAPED_ASCII_BYTES
        else:
            return None
        return 2 + chars + WHITESPACE_PER_VALUE
    if kind in ("integer", "number"):
        return NUMBER_BYTES + WHITESPACE_PER_VALUE
    if kind == "boolean":
        return 5 + WHITESPACE_PER_VALUE
    if kind == "null":
        return 4 + WHITESPACE_PER_VALUE
    if kind == "array":
        if "maxItems" not in schema:
            return None
        items = int(schema["maxItems"])
        if TOTAL_CHARS in schema:  # each item's quotes, comma and spacing, the characters once
            chars = int(schema[TOTAL_CHARS]) * ESCAPED_CHAR_BYTES
            return 2 + items * (3 + WHITESPACE_PER_VALUE) + chars + WHITESPACE_PER_VALUE
        item = _size(schema.get("items", {}), document, seen)
        if item is None:
            return None
        return 2 + items * (item + 1) + WHITESPACE_PER_VALUE
    if kind == "object" or "properties" in schema:
        if schema.get("additionalProperties", True) is not False:
            return None
        total = 2 + WHITESPACE_PER_VALUE
        for key, value in schema.get("properties", {}).items():
            size = _size(value, document, seen)
            if size is None:
                return None
            total += _escaped(key) + 1 + size + 1
        return total
    return None  # {} or a type this does not know: anything


def round_up_kib(size: int) -> int:
    """``size`` bytes rounded up to a whole KiB (caps read better so)."""
    return math.ceil(size / 1024) * 1024
