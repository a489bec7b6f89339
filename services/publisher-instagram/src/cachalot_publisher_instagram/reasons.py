"""What a container that ended in ``ERROR`` means to a person, and whether to try again.

Subcodes from Meta's "Instagram Platform → Error Codes" reference (2026
edition, read with the search tool); the ``status`` text of a container in
``ERROR`` carries one. A subcode not listed falls back to the words in the
status, then to a generic "processing failed" reason. Never a bare number.
A reason speaks of the post's kind: a photo post's failure never talks of
video, sound or MP4 (issue 10, fresh-user try: subcode 2207026 on a photo post
said "this video's format").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cachalot_common.events import PostKind


@dataclass(frozen=True, slots=True)
class ContainerFailure:
    code: str  # our machine-readable code
    reason: str  # for the client: what happened and what to do, starting "Instagram …"
    retry: bool  # a new container may well succeed (the fault was Instagram's or transient)
    operator_hint: str | None = None  # for the operator's log: what only they can fix


_BY_SUBCODE: Final[dict[int, ContainerFailure]] = {
    2207001: ContainerFailure(
        "instagram_server_error",
        "Instagram had a server error while processing the media; it will be tried again.",
        True,
    ),
    2207003: ContainerFailure(
        "media_download_timeout",
        "Instagram took too long to download the media from our link; it will be tried again.",
        True,
    ),
    2207004: ContainerFailure(
        "image_too_large",
        "Instagram refused an image larger than 8 MB: make it smaller "
        "(or lower its JPEG quality) and post again.",
        False,
    ),
    2207005: ContainerFailure(
        "unsupported_image_format",
        "Instagram takes JPEG images only: convert the image to JPEG and post again.",
        False,
    ),
    2207009: ContainerFailure(
        "unsupported_aspect_ratio",
        "Instagram refused the image's shape: crop it to between 4:5 "
        "(portrait) and 1.91:1 (landscape) and post again.",
        False,
    ),
    2207020: ContainerFailure(
        "container_expired",
        "Instagram's copy of the media expired before it was published; it will be uploaded again.",
        True,
    ),
    2207026: ContainerFailure(
        "unsupported_video_format",
        "Instagram could not use this video's format: export it as "
        "MP4 (H.264 video, AAC audio, under 15 minutes and 300 MB) and post again.",
        False,
    ),
    2207032: ContainerFailure(
        "container_failed",
        "Instagram could not create the post's media; it will be tried again.",
        True,
    ),
    2207052: ContainerFailure(
        "media_fetch_failed",
        "Instagram could not fetch the media from our link; the operator has been told, and "
        "it will be tried again.",
        True,
        "Instagram could not fetch a media link: is CACHALOT_PUBLIC_URL reachable from the "
        "internet (DNS, TLS, the /media/v1/ route)?",
    ),
    2207053: ContainerFailure(
        "upload_failed",
        "Instagram had an unknown error while taking the video; it will be tried again.",
        True,
    ),
}

PROCESSING_FAILED: Final = ContainerFailure(
    "processing_failed",
    "Instagram could not process the media (it said: {status}). Check that the video or "
    "image plays and meets Instagram's specifications, then retry.",
    False,
)
_PHOTO_PROCESSING_FAILED: Final = (
    "Instagram could not process the images (it said: {status}). Check that each image "
    "opens, is a JPEG and meets Instagram's specifications, then retry."
)
_VIDEO_PROCESSING_FAILED: Final = (
    "Instagram could not process the video (it said: {status}). Check that the video plays "
    "and meets Instagram's specifications, then retry."
)
_PHOTO_BY_SUBCODE: Final[dict[int, ContainerFailure]] = {
    2207026: ContainerFailure(
        "unsupported_image_format",
        "Instagram could not use an image's format: save each image as a JPEG "
        "(sRGB, at most 8 MB) and post again.",
        False,
    ),
    2207053: ContainerFailure(
        "upload_failed",
        "Instagram had an unknown error while taking the images; it will be tried again.",
        True,
    ),
}
"""Subcodes whose video wording does not fit a photo post: the same fault, in its words."""
SILENT_VIDEO: Final = ContainerFailure(
    "silent_video",
    "Instagram could not process the video's sound: the video has no audio track (or the "
    "added audio could not be used). Add a sound track to the video and post again.",
    False,
)


def container_failure(
    status: str, subcode: int | None, kind: PostKind = "video"
) -> ContainerFailure:
    """The failure a container in ``ERROR`` stands for (``status``: Instagram's text), worded
    for a post of ``kind``: a photo post's reason speaks of images, never of video or sound."""
    photo = kind != "video"
    if subcode is not None and photo and subcode in _PHOTO_BY_SUBCODE:
        return _PHOTO_BY_SUBCODE[subcode]
    if subcode is not None and subcode in _BY_SUBCODE:
        return _BY_SUBCODE[subcode]
    if not photo and ("audio" in status.lower() or "silent" in status.lower()):
        return SILENT_VIDEO
    words = status.removeprefix("Error:").strip() or "no details"
    reason = _PHOTO_PROCESSING_FAILED if photo else _VIDEO_PROCESSING_FAILED
    return ContainerFailure(PROCESSING_FAILED.code, reason.format(status=words), False)


def window_words(duration_s: int) -> str:
    """``quota_duration`` (seconds, from ``content_publishing_limit``'s ``config``) in words:
    86400 → "24 hours", 3600 → "1 hour", 90 → "90 seconds"."""
    for unit, seconds in (("hour", 3600), ("minute", 60)):
        if duration_s >= seconds and duration_s % seconds == 0:
            count = duration_s // seconds
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{duration_s} second{'' if duration_s == 1 else 's'}"


def quota_reason(used: int, total: int, duration_s: int) -> str:
    """Why a post waits for Instagram's rolling publishing quota, with its real window
    (``content_publishing_limit``: ``quota_usage`` of ``quota_total`` per ``quota_duration``)."""
    window = window_words(duration_s)
    if used > total:  # Instagram counts posts made elsewhere, or lowered the limit meanwhile
        return (
            f"Instagram: this account already published {used} posts in {window}, more than "
            f"the {total} it allows now; the post goes out when the limit frees."
        )
    return (
        f"Instagram: this account published {used} of its {total} posts allowed in "
        f"{window}; the post goes out when the limit frees."
    )


CODES: Final = frozenset(
    f.code
    for f in (*_BY_SUBCODE.values(), *_PHOTO_BY_SUBCODE.values(), PROCESSING_FAILED, SILENT_VIDEO)
)
"""Every code a container's failure carries (the dashboard words each, web/words.js)."""
