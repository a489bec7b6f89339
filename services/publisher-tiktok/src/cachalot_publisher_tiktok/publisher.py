"""Publishing one video to one TikTok account, safely against redelivery.

Fresh: lease → ``creator_info`` (privacy level offered? duration allowed?)
→ ``video/init`` → record the ``publish_id`` → PUT each chunk, streamed from
the media store → poll ``status/fetch``. Redelivered (a session is
recorded): ask TikTok where it stands, resume the upload from the bytes it
has, or go straight to polling, and never init again while that post could
still complete. Every attempt ends in exactly one result event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from cachalot_common.events import PublishResult, PublishVideo, TikTokOptions
from cachalot_common.leases import LeaseError, LeaseReauthRequired
from cachalot_common.media import MediaPathError, resolve_media_path
from cachalot_common.metrics import count_result
from cachalot_common.redaction import register_secret
from cachalot_publisher_tiktok import reasons
from cachalot_publisher_tiktok.chunking import ChunkPlan, VideoTooLarge, plan_chunks
from cachalot_publisher_tiktok.limiter import AccountLimiter, Endpoint
from cachalot_publisher_tiktok.media import read_span
from cachalot_publisher_tiktok.models import UploadSession
from cachalot_publisher_tiktok.ports import LeaseSource, ResultSink
from cachalot_publisher_tiktok.reasons import Outcome
from cachalot_publisher_tiktok.sessions import NewSession, SessionStore
from cachalot_publisher_tiktok.settings import PublisherSettings
from cachalot_publisher_tiktok.tiktok import (
    PublishStatus,
    TikTokApiError,
    TikTokClient,
    TikTokUnreachable,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")
UPLOAD_URL_LIFETIME = timedelta(minutes=55)  # TikTok: 1 hour; keep a margin


@dataclass(frozen=True)
class Published:
    remote_id: str
    remote_url: str | None


class _Attempt:
    """One command's token, refreshed at most once after a 401."""

    def __init__(self, publisher: TikTokPublisher, command: PublishVideo) -> None:
        self.command = command
        self._publisher = publisher
        self._token: str | None = None
        self._refreshed = False

    async def token(self, *, force: bool = False) -> str:
        if self._token is None or force:
            try:
                lease = await self._publisher.leases.lease(
                    self.command.account_id,
                    post_id=self.command.post_id,
                    target_id=self.command.target_id,
                    grant=self.command.grant,
                    force_refresh=force,
                )
            except LeaseReauthRequired as error:
                raise reasons.reauth(error.code) from None
            except LeaseError as error:
                if error.retryable:
                    raise reasons.retryable(
                        "lease_unavailable", f"No TikTok token right now ({error}).", 15
                    ) from None
                raise reasons.failed("lease_refused", f"No TikTok token: {error}") from None
            register_secret(lease.access_token)
            self._token = lease.access_token
        return self._token

    async def call(self, endpoint: Endpoint, request: Callable[[str], Awaitable[T]]) -> T:
        """One rate-limited TikTok call; a 401 gets one forced lease refresh."""
        while True:
            token = await self.token()
            await self._publisher.limiter.acquire(self.command.account_id, endpoint)
            try:
                return await request(token)
            except TikTokApiError as error:
                if error.code == "access_token_invalid" and not self._refreshed:
                    self._refreshed = True
                    logger.info("TikTok refused the token; forcing one lease refresh")
                    await self.token(force=True)
                    continue
                raise reasons.from_api_error(error) from None
            except TikTokUnreachable as error:
                raise reasons.from_api_error(error) from None


class TikTokPublisher:
    def __init__(
        self,
        *,
        settings: PublisherSettings,
        tiktok: TikTokClient,
        leases: LeaseSource,
        sessions: SessionStore,
        results: ResultSink,
        limiter: AccountLimiter,
    ) -> None:
        self.settings = settings
        self.tiktok = tiktok
        self.leases = leases
        self.sessions = sessions
        self.results = results
        self.limiter = limiter

    async def handle(self, command: PublishVideo) -> None:
        """Consume one ``PublishVideo``: publish it and send exactly one final result."""
        if command.platform != "tiktok" or not isinstance(command.options, TikTokOptions):
            await self._send(command, "failed", code="wrong_platform", reason="Not a TikTok post.")
            return
        attempt = _Attempt(self, command)
        try:
            published = await self._publish(attempt)
        except Outcome as outcome:
            logger.info(
                "target %s attempt %s ended %s (%s)",
                command.target_id,
                command.attempt,
                outcome.kind,
                outcome.code,
            )
            await self._send(
                command,
                "failed" if outcome.kind == "reauth" else outcome.kind,
                code=outcome.code,
                reason=outcome.reason,
                retry_after_s=outcome.retry_after_s,
                reauth_required=outcome.kind == "reauth",
            )
            return
        logger.info("target %s published as %s", command.target_id, published.remote_id)
        await self._send(
            command,
            "published",
            remote_id=published.remote_id,
            remote_url=published.remote_url,
            bytes_sent=command.media.size,
            bytes_total=command.media.size,
        )

    async def _publish(self, attempt: _Attempt) -> Published:
        command = attempt.command
        latest = await self.sessions.latest(command.target_id)
        if latest is not None:
            if latest.state == "published":
                return Published(latest.remote_id or latest.publish_id, latest.remote_url)
            if latest.state == "failed" and latest.attempt >= command.attempt:
                raise reasons.failed(latest.fail_code or "failed", latest.fail_reason or "")
            if latest.state in ("uploading", "uploaded"):
                resumed = await self._resume(attempt, latest)
                if resumed is not None:
                    return resumed
        return await self._fresh(attempt)

    async def _fresh(self, attempt: _Attempt) -> Published:
        command = attempt.command
        options = command.options
        assert isinstance(options, TikTokOptions)
        path = self._media_file(command)
        try:
            plan = plan_chunks(command.media.size, self.settings.tiktok_chunk_size)
        except VideoTooLarge as error:
            raise reasons.failed("video_too_large", f"TikTok: {error}.") from None
        info = await attempt.call("creator_info", self.tiktok.creator_info)
        if options.privacy_level not in info.privacy_level_options:
            raise reasons.privacy_not_offered(options.privacy_level, info.privacy_level_options)
        duration = command.media.duration_sec
        max_s = info.max_video_post_duration_sec
        if duration is not None and max_s is not None and duration > max_s:
            raise reasons.too_long(duration, max_s)
        post_info = _post_info(
            options, info.comment_disabled, info.duet_disabled, info.stitch_disabled
        )

        async def init(token: str) -> tuple[str, str]:
            return await self.tiktok.init_direct_post(token, post_info, plan)

        publish_id, upload_url = await attempt.call("init", init)
        session = NewSession(
            publish_id=publish_id,
            target_id=command.target_id,
            attempt=command.attempt,
            post_id=command.post_id,
            account_id=command.account_id,
            upload_url=upload_url,
            upload_expires_at=datetime.now(UTC) + UPLOAD_URL_LIFETIME,
            video_size=plan.video_size,
            chunk_size=plan.chunk_size,
            total_chunk_count=plan.total_chunk_count,
            creator_username=info.username,
        )
        await self.sessions.record(session)
        logger.info("target %s: TikTok publish %s started", command.target_id, publish_id)
        await self._upload(attempt, publish_id, upload_url, plan, path, offset=0)
        return await self._poll(attempt, publish_id, info.username)

    async def _resume(self, attempt: _Attempt, row: UploadSession) -> Published | None:
        """Carry on a recorded publish; None when it can never complete (start anew)."""
        status = await self._status(attempt, row.publish_id)
        if status.status == "PUBLISH_COMPLETE" or status.status == "FAILED":
            return await self._finish(row.publish_id, row.creator_username, status)
        plan = ChunkPlan(row.video_size, row.chunk_size, row.total_chunk_count)
        if status.status == "PROCESSING_UPLOAD" and status.uploaded_bytes < plan.video_size:
            expires = row.upload_expires_at
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
            if datetime.now(UTC) >= expires:
                logger.info("publish %s: upload URL expired before completion", row.publish_id)
                await self.sessions.mark(row.publish_id, "abandoned", fail_code="upload_expired")
                return None
            logger.info(
                "publish %s: resuming at byte %s of %s",
                row.publish_id,
                status.uploaded_bytes,
                plan.video_size,
            )
            path = self._media_file(attempt.command)
            await self._upload(
                attempt, row.publish_id, row.upload_url, plan, path, offset=status.uploaded_bytes
            )
        return await self._poll(attempt, row.publish_id, row.creator_username)

    async def _upload(
        self,
        attempt: _Attempt,
        publish_id: str,
        upload_url: str,
        plan: ChunkPlan,
        path: Path,
        *,
        offset: int,
    ) -> None:
        """PUT the chunks from ``offset`` on, each streamed, each retried a few times."""
        command = attempt.command
        failures = 0
        loop = asyncio.get_running_loop()
        interval = self.settings.tiktok_progress_interval_s
        reported = -interval
        while offset < plan.video_size:
            try:
                first, length = plan.span(plan.index_at(offset))
            except ValueError:  # TikTok holds a partial chunk: this upload cannot go on
                await self.sessions.mark(publish_id, "abandoned", fail_code="upload_offset")
                raise reasons.retryable(
                    "upload_offset", "TikTok holds a partial chunk; will start again.", 0
                ) from None
            try:
                answer = await self.tiktok.put_chunk(
                    upload_url,
                    read_span(path, first, length, self.settings.tiktok_read_size),
                    first=first,
                    length=length,
                    total=plan.video_size,
                    content_type=command.media.content_type,
                )
            except OSError as error:  # the media store let us down mid-chunk
                raise reasons.retryable(
                    "media_unreadable", f"The video could not be read ({error}); will retry.", 30
                ) from None
            except (TikTokUnreachable, TikTokApiError) as error:
                status_code = getattr(error, "status", None)
                if status_code in (403, 404):
                    await self.sessions.mark(publish_id, "abandoned", fail_code="upload_expired")
                    raise reasons.retryable(
                        "upload_expired", "TikTok's upload URL expired; will start again.", 0
                    ) from None
                if status_code == 400:
                    outcome = reasons.from_api_error(error)
                    await self.sessions.mark(
                        publish_id, "failed", fail_code=outcome.code, fail_reason=outcome.reason
                    )
                    raise outcome from None
                failures += 1
                if failures > self.settings.tiktok_chunk_retries:
                    raise reasons.from_api_error(error) from None
                logger.info(
                    "publish %s: chunk at %s failed (%s); re-syncing", publish_id, first, error
                )
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))
                offset = (await self._status(attempt, publish_id)).uploaded_bytes
                continue
            offset = first + length
            failures = 0
            now = loop.time()
            if offset == plan.video_size or now - reported >= interval:
                reported = now
                await self._send(
                    command, "progress", bytes_sent=offset, bytes_total=plan.video_size
                )
            if answer.status == 201:
                break
        await self.sessions.mark(publish_id, "uploaded")

    async def _poll(self, attempt: _Attempt, publish_id: str, username: str | None) -> Published:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.tiktok_status_timeout_s
        while True:
            status = await self._status(attempt, publish_id)
            if status.status in ("PUBLISH_COMPLETE", "FAILED"):
                return await self._finish(publish_id, username, status)
            if loop.time() >= deadline:
                raise reasons.retryable(
                    "processing_timeout",
                    "TikTok is still processing the video; will check again.",
                    60,
                )
            await asyncio.sleep(self.settings.tiktok_status_poll_s)

    async def _finish(
        self, publish_id: str, username: str | None, status: PublishStatus
    ) -> Published:
        if status.status == "PUBLISH_COMPLETE":
            remote_id, url = publish_id, None
            if status.post_ids:
                remote_id = str(status.post_ids[0])
                if username:
                    url = f"https://www.tiktok.com/@{username}/video/{remote_id}"
            await self.sessions.mark(publish_id, "published", remote_id=remote_id, remote_url=url)
            return Published(remote_id, url)
        outcome = reasons.from_fail_reason(status.fail_reason)
        state = "failed" if outcome.kind == "failed" else "abandoned"
        await self.sessions.mark(
            publish_id, state, fail_code=outcome.code, fail_reason=outcome.reason
        )
        raise outcome

    async def _status(self, attempt: _Attempt, publish_id: str) -> PublishStatus:
        async def fetch(token: str) -> PublishStatus:
            return await self.tiktok.fetch_status(token, publish_id)

        return await attempt.call("status", fetch)

    def _media_file(self, command: PublishVideo) -> Path:
        try:
            path = resolve_media_path(self.settings.media_dir, command.media.path)
        except MediaPathError:
            raise reasons.failed(
                "media_invalid", "The video's path is not in the media store."
            ) from None
        try:
            size = path.stat().st_size
        except OSError:
            raise reasons.failed(
                "media_missing", "The video file is missing from the media store; upload it again."
            ) from None
        if size != command.media.size:
            raise reasons.failed(
                "media_changed", "The video file in the media store changed size; upload it again."
            )
        return path

    async def _send(self, command: PublishVideo, kind: Any, **fields: Any) -> None:
        result = PublishResult(
            type=kind,
            post_id=command.post_id,
            target_id=command.target_id,
            account_id=command.account_id,
            platform="tiktok",
            attempt=command.attempt,
            **fields,
        )
        await self.results.send(result)
        count_result(result)


def _post_info(
    options: TikTokOptions, comment_off: bool, duet_off: bool, stitch_off: bool
) -> dict[str, Any]:
    """post_info for init; what the creator turned off stays off."""
    info: dict[str, Any] = {
        "title": options.caption,
        "privacy_level": options.privacy_level,
        "disable_comment": options.disable_comment or comment_off,
        "disable_duet": options.disable_duet or duet_off,
        "disable_stitch": options.disable_stitch or stitch_off,
        "brand_content_toggle": options.brand_content_toggle,
        "brand_organic_toggle": options.brand_organic_toggle,
        "is_aigc": options.is_aigc,
    }
    if options.video_cover_timestamp_ms is not None:
        info["video_cover_timestamp_ms"] = options.video_cover_timestamp_ms
    return info
