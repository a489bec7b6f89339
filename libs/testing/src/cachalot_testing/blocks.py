"""Target blocks for tests, read from the platform registry (no platform named here).

:func:`kind_marked_options` lists every block option that only some kinds of post use
(its ``x-kinds`` mark, ``cachalot_common.platforms.spec.for_kinds``) with each kind its
platform takes that would not use it; :func:`block_with` builds a valid block setting
one option to a value other than its default. Tests of the ``x-kinds`` rule run over
these, so a new marked option is covered without a new test.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, get_args, get_origin

from pydantic.fields import FieldInfo

from cachalot_common import platforms
from cachalot_common.events import POST_KINDS
from cachalot_common.platforms.spec import kinds_of


class KindMarkedOption(NamedTuple):
    """An option of ``platform``'s block that a ``kind`` post (which it takes) would not use."""

    platform: str
    option: str
    kind: str

    def __str__(self) -> str:
        return f"{self.platform}.{self.option}-on-{self.kind}"


def kind_marked_options() -> list[KindMarkedOption]:
    """Every (platform, option, kind) where the platform takes ``kind`` and the option's
    ``x-kinds`` leave it out, in registry and field order."""
    found: list[KindMarkedOption] = []
    for spec in platforms.publishable():
        assert spec.fields is not None
        for name, info in spec.fields.model_fields.items():
            marked = kinds_of(info)
            if marked is None:
                continue
            found += [
                KindMarkedOption(spec.name, name, kind)
                for kind in POST_KINDS
                if kind in spec.kinds and kind not in marked
            ]
    return found


def other_value(info: FieldInfo) -> Any:
    """A valid value of the field other than its default (a bool flipped, another choice
    of a ``Literal``, 1 for a number, ``"x"`` for text)."""
    default = info.get_default(call_default_factory=True)
    kinds = [a for a in (get_args(info.annotation) or (info.annotation,)) if a is not type(None)]
    kind = kinds[0]
    if kind is bool:
        return not default
    if get_origin(info.annotation) is Literal:
        return next(c for c in get_args(info.annotation) if c != default)
    if kind is int:
        return 1 if default != 1 else 2
    if kind is str:
        return "x"
    raise AssertionError(f"no other value known for a field of {info.annotation}")


def _chosen(info: FieldInfo) -> Any:
    """A value for a required field: a ``Literal``'s first choice, else :func:`other_value`."""
    if get_origin(info.annotation) is Literal:
        return get_args(info.annotation)[0]
    return other_value(info)


def block_with(platform: str, option: str) -> dict[str, Any]:
    """A block of ``platform`` as JSON: each required option at its first choice, and
    ``option`` set to :func:`other_value`."""
    spec = platforms.get(platform)
    assert spec.fields is not None
    fields = spec.fields.model_fields
    block = {name: _chosen(fields[name]) for name in spec.required_fields}
    block[option] = other_value(fields[option])
    spec.fields.model_validate(block)  # valid as a block: only the kind can refuse it
    return block
