"""The codes of the registry's refusals: one stable ``type`` per kind of refusal (issue 10).

A 422 error entry (``{field, in, message, type}``) from a platform's limits
(:mod:`cachalot_common.platforms`) carries one of these codes as
its ``type`` and the numbers the code names (:data:`REFUSALS`) as extra keys, e.g.
``{"type": "text_too_long", "limit": 1024, "unit": "utf16", "count": 1030, …}``. The
``message`` stays the server's English; a page in another language words the refusal by
its code and those keys (web/words.js ``BY_TYPE``; the catalogue tests check each code is
worded there).

Units: ``unit`` is ``characters`` (code points), ``utf16`` (UTF-16 code units) or
``bytes`` (UTF-8); sizes are bytes, durations seconds, sides pixels, aspects width/height;
``allowed`` is a comma-separated list of values (media types, codecs, post kinds).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from pydantic_core import PydanticCustomError

Param = str | int | float | None

REFUSALS: Final[Mapping[str, tuple[str, ...]]] = {
    # text
    "text_too_long": ("limit", "unit", "count"),
    "too_many_hashtags": ("limit", "count"),
    "too_many_mentions": ("limit", "count"),
    "html_invalid": (),
    "angle_brackets": (),
    "empty_tag": (),
    "branded_content_private": (),
    "not_a_wall": (),
    # the post as a whole
    "kind_not_taken": ("allowed",),
    "option_not_for_kind": ("allowed",),
    "too_many_images": ("limit", "count"),
    "article_too_large": ("limit", "count"),
    "article_too_long_for_message": ("limit", "count"),
    "cover_needs_preview": ("limit", "count"),
    "cover_past_end": ("count", "limit"),
    "cover_index": ("count",),
    # a file against the platform's limits (images[i].<fact>, media.<fact>, article.cover.<fact>)
    "file_type": ("allowed", "count"),
    "file_too_large": ("limit", "count"),
    "duration_too_long": ("limit", "count"),
    "duration_too_short": ("limit", "count"),
    "frame_rate": ("min", "max", "count"),
    "video_codec": ("allowed", "count"),
    "side_size": ("min", "max"),
    "too_wide": ("limit",),
    "picture_too_large": ("long", "short"),
    "sides_sum": ("limit",),
    "aspect_ratio": ("min", "max"),
    # what the account allows now (TikTok's creator_info)
    "privacy_not_offered": ("allowed",),
    "interaction_off": ("name",),
}
"""Each code and the keys its error entry carries besides ``field``/``in``/``message``/``type``
(a key may be ``None`` where the limit has no such bound, e.g. ``min`` of a maximum only)."""


def refusal(code: str, message: str, **params: Param) -> PydanticCustomError:
    """A validator's refusal with ``code`` as its error type and ``params`` kept in its
    context (``raise refusal("text_too_long", "…", limit=1024, unit="utf16", count=n)``);
    :func:`cachalot_common.problems.field_errors` copies them into the error entry.
    Raises ``KeyError`` for a code not in :data:`REFUSALS`."""
    check(code, params)
    return PydanticCustomError(code, message, dict(params))


def params_of(code: str | None, context: Mapping[str, object] | None) -> dict[str, Param]:
    """The keys :data:`REFUSALS` names for ``code``, read from an error's ``context``; empty
    for any other code (pydantic's own contexts are not copied)."""
    if code is None or code not in REFUSALS or not context:
        return {}
    out: dict[str, Param] = {}
    for name in REFUSALS[code]:
        value = context.get(name)
        if value is None or isinstance(value, (str, int, float)):
            out[name] = value
    return out


def check(code: str, params: Mapping[str, Param]) -> None:
    """Raises ``KeyError`` unless ``code`` is in :data:`REFUSALS` and ``params`` are among
    its keys."""
    wanted = REFUSALS[code]
    unknown = set(params) - set(wanted)
    if unknown:
        raise KeyError(f"{code} carries no {sorted(unknown)}")
