"""The media store: a directory (embedded) or a shared volume (compose/k8s).

The queue writes uploaded videos there; publishers stream them from there.
Events carry a path relative to ``CACHALOT_MEDIA_DIR``; this module turns it
into a file path and refuses anything that would step outside the store.
"""

from __future__ import annotations

from pathlib import Path


class MediaPathError(ValueError):
    """A media path points outside the store."""


def resolve_media_path(media_dir: Path, relative: str) -> Path:
    """The absolute file for ``relative`` inside ``media_dir``."""
    root = media_dir.resolve()
    path = (root / relative).resolve()
    if root != path and root not in path.parents:
        raise MediaPathError(f"media path escapes the store: {relative!r}")
    return path
