"""Photo posts: what is sent to TikTok and how its refusals read."""

from __future__ import annotations

import hashlib
import logging
import uuid

import pytest

from cachalot_common.events import MediaRef, TikTokOptions
from cachalot_publisher_tiktok import photos
from cachalot_publishing.outcome import Outcome


def ref(url: str | None) -> MediaRef:
    return MediaRef(
        media_id=uuid.uuid4(),
        path="a.jpg",
        size=10,
        sha256=hashlib.sha256(b"a").hexdigest(),
        content_type="image/jpeg",
        url=url,
    )


def test_the_urls_tiktok_pulls_keep_the_images_order() -> None:
    assert photos.photo_urls((ref("https://c/1"), ref("https://c/2"))) == [
        "https://c/1",
        "https://c/2",
    ]


def test_an_image_without_a_signed_url_is_a_retryable_outcome_saying_so() -> None:
    with pytest.raises(Outcome) as raised:
        photos.photo_urls((ref("https://c/1"), ref(None)))
    assert (raised.value.kind, raised.value.code) == ("retryable", "media_url_missing")
    assert "no URL for TikTok to fetch the photo from" in raised.value.reason


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("picture_size_check_failed", "Resize the photos"),
        ("file_format_check_failed", "JPEG or WebP"),
        ("spam_risk_too_many_posts", "daily posting limit"),
        ("something_new", "did not publish the photos"),
    ],
)
def test_photo_failures_read_as_something_a_person_can_act_on(code: str, words: str) -> None:
    ending = photos.from_fail_reason(code)
    assert (ending.kind, ending.code) == ("failed", code)
    assert words in ending.reason


def test_a_failed_photo_pull_is_retried_like_instagrams_failed_fetch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 10: one transient 5xx on the pull failed the post for good."""
    with caplog.at_level(logging.ERROR):
        ending = photos.from_fail_reason("photo_pull_failed")
    assert (ending.kind, ending.code) == ("retryable", "photo_pull_failed")
    assert "tried again" in ending.reason
    assert "CACHALOT_PUBLIC_URL" not in ending.reason  # the client cannot act on it
    assert "CACHALOT_PUBLIC_URL" in caplog.text  # the operator can


def test_an_unverified_url_prefix_tells_the_operator_to_verify_it_and_the_client_what_to_do(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 10: the client's e-mail said "Verify it in the TikTok developer portal", which
    only the service's operator can."""
    refused = Outcome("failed", "url_ownership_unverified", "TikTok's own words")
    with caplog.at_level(logging.ERROR):
        ending = photos._for_photos(refused)
    assert (ending.kind, ending.code) == ("failed", "url_ownership_unverified")
    assert "developer portal" not in ending.reason
    assert "operator" in ending.reason
    assert "queue the post again later" in ending.reason
    assert "verify it in the TikTok developer portal" in caplog.text


def test_a_photo_post_sends_title_description_and_music_but_no_video_fields() -> None:
    options = TikTokOptions(
        caption="desc",
        photo_title="title",
        privacy_level="SELF_ONLY",
        auto_add_music=True,
        disable_duet=True,
        disable_comment=True,
    )
    info = photos.photo_post_info(options)
    assert info["title"] == "title"
    assert info["description"] == "desc"
    assert info["auto_add_music"] is True
    assert info["disable_comment"] is True
    assert not {"disable_duet", "disable_stitch", "video_cover_timestamp_ms"} & set(info)
