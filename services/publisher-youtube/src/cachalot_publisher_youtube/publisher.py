"""The service layer: one ``PublishVideo`` in, results out, at most one video per target.

Order of work for a target:

1. a recorded video id → answer ``published`` again, send nothing;
2. lease a token from auth;
3. a recorded session URI → ask YouTube where it stands (``bytes */TOTAL``)
   and continue from the ``Range`` it reports (or take the finished video);
   otherwise open a session and record its URI *before* the first byte;
4. ``PUT`` chunks (multiples of 256 KiB), publishing ``progress``;
5. network errors, 5xx and short 429s are retried here with backoff, each
   retry starting with the status query; a 401 gets one forced lease refresh;
6. the video id is recorded, then ``published`` goes out.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from cachalot_common.events import PublishResult, PublishVideo, ResultType, YouTubeOptions
from cachalot_common.leases import Lease, LeaseError, LeaseReauthRequired, LeaseSource
from cachalot_common.media import MediaPathError, resolve_media_path
from cachalot_common.metrics import count_result
from cachalot_common.redaction import register_secret
from cachalot_publisher_youtube.results import ResultSink
from cachalot_publisher_youtube.store import UploadStore
from cachalot_publisher_youtube.youtube import (
    QuotaExceeded,
    Rejected,
    SessionExpired,
    SessionStatus,
    Transient,
    Unauthorized,
    UploadedVideo,
    UploadLimitExceeded,
    YouTubeUploads,
)

logger = logging.getLogger(__name__)

PACIFIC = ZoneInfo("America/Los_Angeles")
UPLOAD_LIMIT_RETRY_S = 24 * 3600.0
LEASE_RETRY_S = 30.0
T = TypeVar("T")


class ReauthNeeded(Exception):
    """YouTube refused a freshly refreshed token too: the client must reconnect."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 6
    initial_s: float = 1.0
    max_s: float = 30.0
    max_inline_wait_s: float = 60.0

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        if retry_after_s is not None:
            return retry_after_s
        ceiling = min(self.max_s, self.initial_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def seconds_until_quota_reset(now: datetime | None = None) -> float:
    """YouTube's daily quota resets at midnight Pacific time."""
    local = (now or datetime.now(PACIFIC)).astimezone(PACIFIC)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, (midnight - local).total_seconds())


class _Token:
    """The leased token for one delivery.

    A long upload can outlive a token: shortly before ``expires_at`` a new
    lease is asked for (auth refreshes as needed). A 401 forces one refresh;
    a second 401 means the account must be reconnected.
    """

    RENEW_BEFORE_S = 120.0

    def __init__(self, leases: LeaseSource, command: PublishVideo, lease: Lease) -> None:
        self._leases = leases
        self._command = command
        self._lease = lease
        self.refreshed = False

    async def current(self) -> str:
        expires_at = self._lease.expires_at
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        remaining = (expires_at - datetime.now(UTC)).total_seconds()
        if remaining < self.RENEW_BEFORE_S:
            await self._renew(force=False)
        return self._lease.access_token

    async def refresh(self) -> str:
        if self.refreshed:
            raise ReauthNeeded
        self.refreshed = True
        await self._renew(force=True)
        return self._lease.access_token

    async def _renew(self, *, force: bool) -> None:
        lease = await self._leases.lease(
            self._command.account_id,
            post_id=self._command.post_id,
            target_id=self._command.target_id,
            grant=self._command.grant,
            force_refresh=force,
        )
        register_secret(lease.access_token)
        self._lease = lease


class YouTubePublisher:
    """Handles ``posts.publish.youtube.v1`` commands."""

    def __init__(
        self,
        *,
        store: UploadStore,
        leases: LeaseSource,
        uploads: YouTubeUploads,
        results: ResultSink,
        media_dir: Path,
        chunk_bytes: int,
        retry: RetryPolicy,
        progress_every_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._leases = leases
        self._uploads = uploads
        self._results = results
        self._media_dir = media_dir
        self._chunk = chunk_bytes
        self._progress_every_s = progress_every_s
        self._retry = retry
        self._sleep = sleep

    async def handle(self, command: PublishVideo) -> None:
        """Publish one target; every outcome a person should know about becomes a result."""
        emit = _Emitter(self._results, command)
        options = command.options
        if command.platform != "youtube" or not isinstance(options, YouTubeOptions):
            await emit("failed", code="wrong_platform", reason="Not a YouTube publish command.")
            return
        record = await self._store.get(command.target_id)
        if record is not None and record.video_id is not None:
            await emit.published(UploadedVideo(id=record.video_id, privacy_status=None))
            return
        path = await self._media_file(command, emit)
        if path is None:
            return
        logger.info(
            "publishing target %s (attempt %d, %d bytes)",
            command.target_id,
            command.attempt,
            command.media.size,
        )
        try:
            lease = await self._leases.lease(
                command.account_id,
                post_id=command.post_id,
                target_id=command.target_id,
                grant=command.grant,
            )
            register_secret(lease.access_token)
            token = _Token(self._leases, command, lease)
            video = await self._upload(command, options, path, token, emit)
        except LeaseReauthRequired as error:
            await emit.reauth(f"YouTube account needs to be reconnected ({error.code}).")
        except ReauthNeeded:
            await emit.reauth(
                "YouTube refused the account's token even after a refresh: "
                "the client must reconnect the YouTube account."
            )
        except LeaseError as error:
            if error.retryable:
                await emit(
                    "retryable",
                    code="lease_unavailable",
                    reason=str(error),
                    retry_after_s=LEASE_RETRY_S,
                )
            else:
                await emit("failed", code="lease_refused", reason=str(error))
        except QuotaExceeded:
            await emit(
                "retryable",
                code="quota_exceeded",
                reason="YouTube: the project's daily API quota is used up; "
                "the upload will be retried after it resets at midnight Pacific time.",
                retry_after_s=seconds_until_quota_reset(),
            )
        except UploadLimitExceeded:
            await emit(
                "retryable",
                code="upload_limit_exceeded",
                reason="YouTube: this channel reached its daily upload limit; "
                "the upload will be retried in 24 hours.",
                retry_after_s=UPLOAD_LIMIT_RETRY_S,
            )
        except Transient as error:
            await emit(
                "retryable",
                code="platform_unavailable",
                reason=f"YouTube did not accept the upload for now ({error.message}); "
                "it will be retried.",
                retry_after_s=error.retry_after_s,
            )
        except Rejected as error:
            await emit(
                "failed",
                code=error.reason or f"http_{error.status}",
                reason=f"YouTube refused the video: {error.message}"
                + (f" ({error.reason})" if error.reason else ""),
            )
        except OSError as error:
            await emit(
                "failed",
                code="media_unreadable",
                reason=f"The stored video could not be read ({type(error).__name__}).",
            )
        else:
            await self._store.record_video(command.target_id, video.id, command.media.size)
            logger.info(
                "target %s published as YouTube video %s (%d bytes)",
                command.target_id,
                video.id,
                command.media.size,
            )
            await emit.published(video)

    async def _media_file(self, command: PublishVideo, emit: _Emitter) -> Path | None:
        try:
            path = resolve_media_path(self._media_dir, command.media.path)
        except MediaPathError:
            await emit("failed", code="media_path", reason="The video's path is not in the store.")
            return None
        try:
            size = path.stat().st_size
        except OSError:
            await emit(
                "failed", code="media_missing", reason="The video file is missing from the store."
            )
            return None
        if size != command.media.size:
            await emit(
                "failed",
                code="media_size",
                reason=f"The stored video has {size} bytes, the post says {command.media.size}.",
            )
            return None
        return path

    async def _upload(
        self,
        command: PublishVideo,
        options: YouTubeOptions,
        path: Path,
        token: _Token,
        emit: _Emitter,
    ) -> UploadedVideo:
        """Upload with in-process retries; each retry first asks the session where it stands."""
        policy = self._retry

        def retryable(error: BaseException) -> bool:
            if not isinstance(error, Transient):
                return False
            return error.retry_after_s is None or error.retry_after_s <= policy.max_inline_wait_s

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            after = error.retry_after_s if isinstance(error, Transient) else None
            delay = policy.delay(state.attempt_number, after)
            logger.warning(
                "youtube upload of target %s interrupted (%s); retrying in %.1fs",
                command.target_id,
                error,
                delay,
            )
            return delay

        async for attempt in AsyncRetrying(
            retry=retry_if_exception(retryable),
            stop=stop_after_attempt(policy.attempts),
            wait=wait,
            sleep=self._sleep,
            reraise=True,
        ):
            with attempt:
                return await self._upload_once(command, options, path, token, emit)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _upload_once(
        self,
        command: PublishVideo,
        options: YouTubeOptions,
        path: Path,
        token: _Token,
        emit: _Emitter,
    ) -> UploadedVideo:
        media = command.media
        total = media.size
        session_uri, offset, finished = await self._resume_point(command, token)
        if finished is not None:
            return finished
        if session_uri is None:
            session_uri = await self._call(
                token,
                lambda t: self._uploads.start_session(
                    t, options, total=total, content_type=media.content_type
                ),
            )
            await self._store.record_session(
                target_id=command.target_id,
                post_id=command.post_id,
                account_id=command.account_id,
                media_sha256=media.sha256,
                total_bytes=total,
                session_uri=session_uri,
            )
            offset = 0
        uri = session_uri
        while True:
            first, size = offset, min(self._chunk, total - offset)
            try:
                status = await self._call(
                    token,
                    partial(
                        self._uploads.put_chunk,
                        session_uri=uri,
                        path=path,
                        first=first,
                        size=size,
                        total=total,
                        content_type=media.content_type,
                    ),
                )
            except SessionExpired:
                await self._store.forget_session(command.target_id)
                raise Transient("the upload session expired; starting a new one") from None
            except Rejected:
                # e.g. another replica moved the session on after a rebalance:
                # believe the session's own account before calling it permanent
                status = await self._call(
                    token, partial(self._uploads.query_status, session_uri=uri, total=total)
                )
                if status.video is None and status.received == first:
                    raise
            if status.video is not None:
                return status.video
            if status.received <= first:
                raise Transient(f"YouTube kept none of the bytes sent from {first}")
            offset = status.received
            if emit.progress_due(self._progress_every_s):
                await self._store.record_progress(command.target_id, offset)
                await emit("progress", bytes_sent=offset, bytes_total=total)

    async def _resume_point(
        self, command: PublishVideo, token: _Token
    ) -> tuple[str | None, int, UploadedVideo | None]:
        """The recorded session, the offset YouTube reports for it, or its finished video."""
        record = await self._store.get(command.target_id)
        if record is None or record.session_uri is None:
            return None, 0, None
        if record.media_sha256 != command.media.sha256 or record.total_bytes != command.media.size:
            return None, 0, None
        uri = record.session_uri
        try:
            status: SessionStatus = await self._call(
                token, lambda t: self._uploads.query_status(t, uri, total=record.total_bytes)
            )
        except SessionExpired:
            await self._store.forget_session(command.target_id)
            return None, 0, None
        return uri, status.received, status.video

    async def _call(self, token: _Token, call: Callable[[str], Awaitable[T]]) -> T:
        """One platform call; a 401 refreshes the lease once, a second 401 means reauth."""
        try:
            return await call(await token.current())
        except Unauthorized:
            fresh = await token.refresh()
            try:
                return await call(fresh)
            except Unauthorized:
                raise ReauthNeeded from None


class _Emitter:
    """Builds results for one command and hands them to the sink."""

    def __init__(self, sink: ResultSink, command: PublishVideo) -> None:
        self._sink = sink
        self._command = command
        self._last_progress = 0.0

    def progress_due(self, every_s: float) -> bool:
        """At most one progress result per ``every_s``: the queue needs a pulse, not a flood."""
        now = time.monotonic()
        if now - self._last_progress < every_s:
            return False
        self._last_progress = now
        return True

    async def __call__(self, type_: ResultType, **fields: object) -> None:
        c = self._command
        result = PublishResult(
            type=type_,
            post_id=c.post_id,
            target_id=c.target_id,
            account_id=c.account_id,
            platform="youtube",
            attempt=c.attempt,
            **fields,  # type: ignore[arg-type]
        )
        await self._sink.emit(result)
        count_result(result)

    async def published(self, video: UploadedVideo) -> None:
        await self(
            "published",
            remote_id=video.id,
            remote_url=video.watch_url,
            bytes_sent=self._command.media.size,
            bytes_total=self._command.media.size,
        )

    async def reauth(self, reason: str) -> None:
        await self("failed", code="reauth_required", reason=reason, reauth_required=True)
