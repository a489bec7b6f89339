"""The one media-file check every platform uses before reading a video.

The command names the file relative to the media store
(``CACHALOT_MEDIA_DIR``) and its size; the file must be inside the store,
exist, and still have that size (a re-upload under the same path would be a
different video).
"""

from __future__ import annotations

from pathlib import Path

from cachalot_common.events import MediaRef
from cachalot_common.media import MediaPathError, resolve_media_path
from cachalot_publishing.outcome import MEDIA_CHANGED, MEDIA_INVALID, MEDIA_MISSING, failed


def media_file(media_dir: Path, media: MediaRef) -> Path:
    """The absolute path of ``media`` in the store.

    Raises :class:`~cachalot_publishing.outcome.Outcome` ``failed`` with
    ``media_invalid`` (path outside the store), ``media_missing`` (no such
    file) or ``media_changed`` (its size is not ``media.size`` bytes).
    """
    try:
        path = resolve_media_path(media_dir, media.path)
    except MediaPathError:
        raise failed(MEDIA_INVALID, "The video's path is not in the media store.") from None
    try:
        size = path.stat().st_size
    except OSError:
        raise failed(
            MEDIA_MISSING, "The video file is missing from the media store; upload it again."
        ) from None
    if size != media.size:
        raise failed(
            MEDIA_CHANGED,
            f"The video file in the media store has {size} bytes, the post says {media.size}; "
            "upload it again.",
        )
    return path
