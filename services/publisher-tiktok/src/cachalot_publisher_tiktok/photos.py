"""Publishing a photo post (1–35 images) to one TikTok account, safely against redelivery.

TikTok pulls photos; nothing is uploaded (shared/reference/platforms.md §1.2
"Photo posts"). Fresh: every image is in the media store and carries the
signed, expiring URL the queue's dispatcher gave it (``MediaRef.url``) →
``creator_info`` (choices allowed now?) → ``content/init`` (``DIRECT_POST``,
``PHOTO``, ``PULL_FROM_URL``) → record the ``publish_id`` at once → poll
``status/fetch`` (``PROCESSING_DOWNLOAD`` while TikTok pulls, then
``PROCESSING_UPLOAD``, then ``PUBLISH_COMPLETE`` or ``FAILED``), each wait
through ``ctx.sleep`` so it gives the publish slot back. Redelivered (a
session is recorded for the target): ask TikTok where that publish stands
and go on polling it; never init again while it could still complete.

The record is the video's table (``tiktok_upload_sessions``, no migration):
``upload_url`` is empty (nothing is uploaded), ``video_size`` holds the
images' total bytes and ``total_chunk_count`` their number. The one window
left is the same as for videos: a crash after TikTok answered the init and
before the row is committed leaves a publish this service does not know of.

``post_info`` for photos (TikTok's photo reference): ``title`` is
``photo_title`` (≤ 90), ``description`` is ``caption`` (≤ 4000),
``privacy_level``, ``disable_comment`` (a creator who turned comments off fails the target),
``auto_add_music``, ``brand_content_toggle``, ``brand_organic_toggle``. The
duet, stitch, cover-frame and AIGC fields are video fields: not sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import anyio

from cachalot_common.events import MediaRef, PublishPost, TikTokOptions
from cachalot_publisher_tiktok import reasons
from cachalot_publisher_tiktok.sessions import NewSession
from cachalot_publisher_tiktok.tiktok import PublishStatus
from cachalot_publishing import outcome
from cachalot_publishing.outcome import Outcome, Published, failed, retryable

if TYPE_CHECKING:
    from cachalot_publisher_tiktok.publisher import TikTokPlatform
    from cachalot_publishing.ports import Context

logger = logging.getLogger(__name__)

MEDIA_URL_MISSING: Final = "media_url_missing"
FINAL: Final = frozenset({"PUBLISH_COMPLETE", "FAILED", "SEND_TO_USER_INBOX"})


@dataclass(frozen=True, slots=True)
class PhotoFailure:
    """What one of TikTok's photo codes means: ``reason`` for the client (what they can do),
    whether a later attempt may succeed, and ``operator_hint`` for what only the service's
    operator can fix (logged at error level, as Instagram's container failures are)."""

    reason: str
    retry: bool = False
    operator_hint: str | None = None


# TikTok's codes (init errors and status fail_reason values) that mean something
# particular for a photo post
PHOTO_REASONS: Final[dict[str, PhotoFailure]] = {
    # TikTok's pull failed: our link unreachable for a moment (a 5xx, a timeout) or for good
    # (CACHALOT_PUBLIC_URL wrong); retried like Instagram's media_fetch_failed
    "photo_pull_failed": PhotoFailure(
        "TikTok could not download the photos from our link; the operator has been told, and "
        "it will be tried again.",
        retry=True,
        operator_hint="TikTok could not pull a photo: is CACHALOT_PUBLIC_URL reachable from "
        "the internet over HTTPS (DNS, TLS, the /media/v1/ route)?",
    ),
    "url_ownership_unverified": PhotoFailure(
        "TikTok would not fetch the photos from our service's address. This is for the "
        "service's operator to fix and they have been told; queue the post again later "
        "(video posts are not affected).",
        operator_hint="CACHALOT_PUBLIC_URL is not a domain or URL prefix verified for the "
        "TikTok app: verify it in the TikTok developer portal.",
    ),
    "picture_size_check_failed": PhotoFailure(
        "TikTok refused a photo's size (it takes images of at most 1080p and 20 MB). "
        "Resize the photos and queue the post again."
    ),
    "file_format_check_failed": PhotoFailure(
        "TikTok could not read a photo: it takes JPEG or WebP images. "
        "Convert the photos and queue the post again."
    ),
}
PHOTO_RETRY_S: Final = 60.0


def photo_failure(code: str) -> Outcome:
    """The outcome of one of :data:`PHOTO_REASONS` (its operator hint logged)."""
    known = PHOTO_REASONS[code]
    if known.operator_hint:
        logger.error("operator: %s (%s)", known.operator_hint, code)
    if known.retry:
        return retryable(code, known.reason, PHOTO_RETRY_S)
    return failed(code, known.reason)


async def publish(platform: TikTokPlatform, command: PublishPost, ctx: Context) -> Published:
    """Publish ``command``'s images as one TikTok photo post, or carry on the recorded one.

    Raises the :class:`~cachalot_publishing.outcome.Outcome` of a post that did
    not publish: ``failed`` (reasons above, TikTok's permanent codes),
    ``retryable`` (``photo_pull_failed``, ``media_url_missing`` when the queue gave no URL, network,
    rate limits, TikTok still processing), ``reauth``.
    """
    assert isinstance(command.options, TikTokOptions)  # checked by the caller
    latest = await platform.sessions.latest(command.target_id)
    if latest is not None:
        if latest.state == "published":
            return Published(latest.remote_id or latest.publish_id, latest.remote_url)
        if latest.state == "failed" and latest.attempt >= command.attempt:
            raise failed(latest.fail_code or "failed", latest.fail_reason or "")
        if latest.state in ("uploading", "uploaded"):
            logger.info(
                "target %s: checking recorded photo post %s", command.target_id, latest.publish_id
            )
            return await _poll(platform, ctx, latest.publish_id, latest.creator_username)
    return await _fresh(platform, ctx, command.options)


def photo_urls(images: tuple[MediaRef, ...]) -> list[str]:
    """The URLs TikTok pulls, in order; ``retryable`` ``media_url_missing`` when the queue
    gave none (its dispatcher signs them for platforms that fetch media by URL)."""
    urls = [ref.url for ref in images]
    if not urls or any(url is None for url in urls):
        raise retryable(
            MEDIA_URL_MISSING,
            "The queue gave no URL for TikTok to fetch the photo from; will retry.",
            60,
        )
    return [url for url in urls if url is not None]


async def _fresh(platform: TikTokPlatform, ctx: Context, options: TikTokOptions) -> Published:
    command = ctx.command
    for ref in command.images:
        ctx.media_file(ref)  # in the store, of its recorded size (what TikTok will pull)
    urls = photo_urls(command.images)
    post_info = photo_post_info(options)

    async def init(token: str) -> str:
        return await platform.tiktok.init_photo_post(
            token, post_info, urls, options.photo_cover_index
        )

    try:
        publish_id, info = await platform.checked_init(
            ctx, options, init, duration_s=None, photo=True
        )
    except Outcome as ending:
        raise _for_photos(ending) from None
    await platform.sessions.record(
        NewSession(
            publish_id=publish_id,
            target_id=command.target_id,
            attempt=command.attempt,
            post_id=command.post_id,
            account_id=command.account_id,
            upload_url="",
            upload_expires_at=datetime.now(UTC),
            video_size=sum(ref.size for ref in command.images),
            chunk_size=0,
            total_chunk_count=len(command.images),
            creator_username=info.username,
        )
    )
    logger.info(
        "target %s: TikTok photo post %s started (%s images)",
        command.target_id,
        publish_id,
        len(urls),
    )
    return await _poll(platform, ctx, publish_id, info.username)


def photo_post_info(options: TikTokOptions) -> dict[str, Any]:
    """``post_info`` of a photo post (see the module docstring for what is sent), as the
    person chose it (already held against ``creator_info``)."""
    return {
        "title": options.photo_title,
        "description": options.caption,
        "privacy_level": options.privacy_level,
        "disable_comment": options.disable_comment,
        "auto_add_music": options.auto_add_music,
        "brand_content_toggle": options.brand_content_toggle,
        "brand_organic_toggle": options.brand_organic_toggle,
    }


async def _poll(
    platform: TikTokPlatform, ctx: Context, publish_id: str, username: str | None
) -> Published:
    """Ask TikTok until the photo post completes or fails; each wait frees the slot."""
    deadline = anyio.current_time() + platform.settings.tiktok_status_timeout_s
    reason = "TikTok is still processing the photos; will check again."
    while True:

        async def fetch(token: str) -> PublishStatus:
            return await platform.tiktok.fetch_status(token, publish_id)

        status = await platform._call(ctx, "status", fetch)
        if status.status in FINAL:
            return await _finish(platform, publish_id, username, status)
        if anyio.current_time() >= deadline:
            raise retryable(outcome.PROCESSING_TIMEOUT, reason, 60)
        await ctx.sleep(
            platform.settings.tiktok_status_poll_s, code=outcome.PROCESSING_TIMEOUT, reason=reason
        )


async def _finish(
    platform: TikTokPlatform, publish_id: str, username: str | None, status: PublishStatus
) -> Published:
    if status.status != "FAILED":
        remote_id, url = publish_id, None
        if status.post_ids:
            remote_id = str(status.post_ids[0])
            if username:
                url = f"https://www.tiktok.com/@{username}/photo/{remote_id}"
        await platform.sessions.mark(publish_id, "published", remote_id=remote_id, remote_url=url)
        return Published(remote_id, url)
    ending = from_fail_reason(status.fail_reason)
    state = "failed" if ending.kind == "failed" else "abandoned"
    await platform.sessions.mark(
        publish_id, state, fail_code=ending.code, fail_reason=ending.reason
    )
    raise ending


def from_fail_reason(fail_reason: str | None) -> Outcome:
    """The outcome of a photo post TikTok reports as FAILED (photo reasons first)."""
    if fail_reason in PHOTO_REASONS:
        return photo_failure(fail_reason)
    ending = reasons.from_fail_reason(fail_reason)
    if ending.kind == "failed" and ending.reason.startswith("TikTok did not publish the video"):
        return failed(ending.code, f"TikTok did not publish the photos (reason: {ending.code}).")
    return ending


def _for_photos(ending: Outcome) -> Outcome:
    """An init refusal in photo words when TikTok's code means something for photos."""
    if ending.kind == "failed" and ending.code in PHOTO_REASONS:
        return photo_failure(ending.code)
    return ending
