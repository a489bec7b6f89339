"""Container errors and Graph errors, as people and the runtime read them."""

from __future__ import annotations

import httpx

from cachalot_publisher_instagram.graph import (
    ContainerStatus,
    NotFound,
    PermissionMissing,
    QuotaUsed,
    Refused,
    Transient,
    Unauthorized,
    _error,
)
from cachalot_publisher_instagram.reasons import container_failure, quota_reason


def test_a_container_error_becomes_a_reason_never_a_bare_code() -> None:
    for status, code, retry in (
        ("Error: Unsupported format (2207026)", "unsupported_video_format", False),
        (
            "Error: It takes too long to download the media. (2207003)",
            "media_download_timeout",
            True,
        ),
        ("Error: The video has no audio track and no audio was added.", "silent_video", False),
        ("Error: something new", "processing_failed", False),
    ):
        found = ContainerStatus("ERROR", status)
        failure = container_failure(found.status, found.subcode)
        assert (failure.code, failure.retry) == (code, retry), status
        assert "2207" not in failure.reason


def test_a_photo_posts_container_error_speaks_of_images_never_of_video_or_sound() -> None:
    video_words = ("video", "mp4", "audio", "sound", "h.264")
    for status in (
        "Error: Unsupported format (2207026)",
        "Error: The media has no audio track, silent (2207053)",
        "Error: silent media",
        "Error: something new",
    ):
        found = ContainerStatus("ERROR", status)
        photo = container_failure(found.status, found.subcode, "photo")
        words = photo.reason.lower().replace(status.lower().removeprefix("error:").strip(), "")
        assert not [w for w in video_words if w in words], (status, photo.reason)
        assert "image" in photo.reason, photo.reason
        assert photo.code not in ("unsupported_video_format", "silent_video"), status
    assert container_failure("Error: x (2207026)", 2207026, "video").code == (
        "unsupported_video_format"
    )


def graph_error(status: int, **error: object) -> Exception:
    return _error(httpx.Response(status, json={"error": {"message": "m", **error}}))


def test_graph_errors_are_classified_by_code_and_subcode() -> None:
    assert isinstance(graph_error(401, code=190), Unauthorized)
    assert isinstance(graph_error(403, code=10), PermissionMissing)
    assert isinstance(graph_error(400, code=9, error_subcode=2207042), QuotaUsed)
    assert isinstance(graph_error(400, code=4), Transient)
    assert isinstance(graph_error(500, code=2), Transient)
    assert isinstance(graph_error(400, code=100, error_subcode=33), NotFound)
    assert isinstance(graph_error(400, code=100), Refused)


def test_the_quota_reason_names_the_window_instagram_gave_not_always_24_hours() -> None:
    assert "allowed in 24 hours" in quota_reason(50, 50, 86400)
    assert "allowed in 1 hour;" in quota_reason(5, 5, 3600)
    assert "allowed in 90 seconds" in quota_reason(2, 2, 90)
    assert "allowed in 10 minutes" in quota_reason(2, 2, 600)


def test_a_quota_used_beyond_its_total_is_said_as_more_than_allowed_not_of_it() -> None:
    reason = quota_reason(11, 3, 86400)
    assert "of its" not in reason
    assert "already published 11 posts in 24 hours, more than the 3 it allows now" in reason
