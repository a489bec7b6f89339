"""Publishing one video to one YouTube channel by resumable upload, safely against redelivery.

Order of work for a target:

1. a recorded video id → ``published`` again, nothing sent to YouTube;
2. a recorded session URI (same file) → ask YouTube where it stands
   (``bytes */TOTAL``) and continue from the ``Range`` it reports (or take
   the finished video); otherwise open a session and record its URI
   *before* the first byte;
3. ``PUT`` chunks (multiples of 256 KiB), reporting ``progress``;
4. network errors, 5xx, 429s and an expired session are retried here with
   backoff (each retry starts with the status query); every wait goes
   through ``ctx.sleep``, which frees the publish slot, and a wait past the
   runtime's in-process maximum goes back to the queue as ``retryable``;
5. the video id is recorded, then ``published`` goes out.

Between YouTube's final answer (the video exists) and step 5 the process can
die; if the session has also expired by the time the command comes back,
step 2 cannot learn the video from it. So before opening a session for a
target that had one before, the channel's own uploads are searched for a
video of the same title and byte size published since that first session
(issue 11 item 8): found, it is recorded and answered ``published``. The
lookup needs a reading scope (``youtube.readonly``, which a person may untick on
Google's consent screen). With a token without one, a target whose last chunk
never went out opens a new session (no video can exist: YouTube makes it when the
last byte arrives); one whose last chunk went out ends ``unknown`` (the queue shows
``unconfirmed``: the client checks the channel, then marks it published or publishes
it again), never a second upload unasked (fresh11k).

The runtime (``cachalot_publishing``) does the rest: leases and the 401
rule (``ctx.call_with_token``: one forced refresh, then reauth), the media
check, results, progress throttling, spans and metrics.
"""

from __future__ import annotations

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

from cachalot_common.events import PublishPost, YouTubeOptions
from cachalot_publisher_youtube.store import UploadRecord, UploadStore
from cachalot_publisher_youtube.youtube import (
    CannotLookUp,
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
from cachalot_publishing import outcome
from cachalot_publishing.outcome import Outcome, Published, failed, retryable
from cachalot_publishing.ports import Context, TokenRejected

logger = logging.getLogger(__name__)

PACIFIC = ZoneInfo("America/Los_Angeles")
UPLOAD_LIMIT_RETRY_S = 24 * 3600.0
LOOKUP_SKEW = timedelta(minutes=10)  # our clock against YouTube's publishedAt
MEDIA_RETRY_S = 30.0
QUOTA_EXCEEDED = "quota_exceeded"  # YouTube's own: the project's daily units are spent
UPLOAD_LIMIT_EXCEEDED = "upload_limit_exceeded"  # YouTube's own: the channel's daily cap
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """In-process tries per delivery for transient faults, and the wait before each."""

    attempts: int = 6
    initial_s: float = 1.0
    max_s: float = 30.0

    def delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds before try ``attempt + 1``: YouTube's Retry-After in full, else
        exponential backoff (``initial_s * 2**(attempt-1)``, capped at ``max_s``) with jitter
        in its upper half."""
        if retry_after_s is not None:
            return retry_after_s
        ceiling = min(self.max_s, self.initial_s * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


def seconds_until_quota_reset(now: datetime | None = None) -> float:
    """Seconds (≥ 60) until YouTube's daily quota resets: midnight Pacific time
    (YouTube Data API, "Quota usage")."""
    local = (now or datetime.now(PACIFIC)).astimezone(PACIFIC)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(60.0, (midnight - local).total_seconds())


def transient_outcome(error: Transient) -> Outcome:
    """The shared ``retryable`` outcome for a transient fault (after the in-process tries,
    or when its wait is too long to sleep): ``rate_limited`` (429), ``upload_expired``
    (the session is gone), ``network`` (no answer) or ``platform_unavailable`` (5xx)."""
    after = error.retry_after_s
    if error.status == 429 or error.reason in ("rateLimitExceeded", "userRateLimitExceeded"):
        return outcome.rate_limited("YouTube", after)
    if error.status == 404:
        return retryable(
            outcome.UPLOAD_EXPIRED, "YouTube's upload session expired; will start again.", after
        )
    code = outcome.NETWORK if error.status is None else outcome.PLATFORM_UNAVAILABLE
    return retryable(
        code,
        f"YouTube did not accept the upload for now ({error.message}); it will be retried.",
        after,
    )


class YouTubePlatform:
    """The YouTube steps behind :class:`cachalot_publishing.ports.Platform`."""

    def __init__(
        self,
        *,
        store: UploadStore,
        uploads: YouTubeUploads,
        chunk_bytes: int,
        retry: RetryPolicy,
        record_progress_every_s: float = 1.0,
    ) -> None:
        self._store = store
        self._uploads = uploads
        self._chunk = chunk_bytes
        self._retry = retry
        self._record_every_s = record_progress_every_s

    async def publish(self, command: PublishPost, ctx: Context) -> Published:
        """Publish ``command``'s video once per target; raises :class:`Outcome` otherwise."""
        options = command.options
        if not isinstance(options, YouTubeOptions):
            raise failed(outcome.WRONG_PLATFORM, "Not a YouTube post.")
        record = await self._store.get(command.target_id)
        if record is not None and record.video_id is not None:
            return _published(UploadedVideo(id=record.video_id, privacy_status=None))
        path = ctx.media_file()
        logger.info(
            "publishing target %s (attempt %d, %d bytes)",
            command.target_id,
            command.attempt,
            command.video().size,
        )
        try:
            video = await self._upload(ctx, options, path, record)
        except QuotaExceeded:
            raise outcome.wait(
                QUOTA_EXCEEDED,
                "YouTube: the project's daily API quota is used up; "
                "the upload will be retried after it resets at midnight Pacific time.",
                seconds_until_quota_reset(),
            ) from None
        except UploadLimitExceeded:
            raise outcome.wait(
                UPLOAD_LIMIT_EXCEEDED,
                "YouTube: this channel reached its daily upload limit; "
                "the upload will be retried in 24 hours.",
                UPLOAD_LIMIT_RETRY_S,
            ) from None
        except Transient as error:
            raise transient_outcome(error) from None
        except Rejected as error:
            raise failed(
                error.reason or f"http_{error.status}",
                f"YouTube refused the video: {error.message}"
                + (f" ({error.reason})" if error.reason else ""),
            ) from None
        except OSError as error:
            raise retryable(
                outcome.MEDIA_UNREADABLE,
                f"The stored video could not be read ({type(error).__name__}); will retry.",
                MEDIA_RETRY_S,
            ) from None
        await self._store.record_video(command.target_id, video.id, command.video().size)
        logger.info(
            "target %s published as YouTube video %s (%d bytes)",
            command.target_id,
            video.id,
            command.video().size,
        )
        return _published(video)

    async def _call(self, ctx: Context, call: Callable[[str], Awaitable[T]]) -> T:
        """One YouTube call with the account's token; a 401 gets the runtime's one refresh."""

        async def attempt(token: str) -> T:
            try:
                return await call(token)
            except Unauthorized:
                raise TokenRejected from None

        return await ctx.call_with_token(attempt)

    async def _upload(
        self, ctx: Context, options: YouTubeOptions, path: Path, record: UploadRecord | None
    ) -> UploadedVideo:
        """Upload with in-process retries; each retry first asks the session where it stands.

        Each wait goes through ``ctx.sleep`` (the slot is freed; a wait past the runtime's
        maximum raises the ``retryable`` outcome instead)."""
        media = ctx.command.video()
        session = _Session(
            since=None if record is None else record.created_at - LOOKUP_SKEW,
            unknown_reported_attempt=None if record is None else record.unknown_reported_attempt,
        )
        if (
            record is not None
            and record.media_sha256 == media.sha256
            and record.total_bytes == media.size
        ):  # the same file: carry on its recorded session (if any)
            session.uri = record.session_uri
            session.last_chunk_sent = record.last_chunk_sent
        tries = 0
        while True:
            tries += 1
            try:
                return await self._upload_once(ctx, options, path, session)
            except Transient as error:
                if tries >= self._retry.attempts:
                    raise
                delay = self._retry.delay(tries, error.retry_after_s)
                logger.warning(
                    "youtube upload of target %s interrupted (%s); resuming after %.1f s (a "
                    "wait past the in-process maximum goes back to the queue)",
                    ctx.command.target_id,
                    error,
                    delay,
                )
                ending = transient_outcome(error)
                await ctx.sleep(delay, code=ending.code, reason=ending.reason)

    async def _upload_once(
        self, ctx: Context, options: YouTubeOptions, path: Path, session: _Session
    ) -> UploadedVideo:
        """One try: resume ``session`` (or open and record one), then send the chunks."""
        command = ctx.command
        media = command.video()
        total = media.size
        offset = 0
        if session.uri is not None:
            status = await self._resume_point(ctx, session.uri, total)
            if status is None:
                session.uri = None
            elif status.video is not None:
                return status.video
            else:
                offset = status.received
        if session.uri is None:
            if session.since is not None:  # a session was opened before: did it finish?
                found = await self._look_up(ctx, options, session)
                if found is not None:
                    return found
            opening = datetime.now(UTC) - LOOKUP_SKEW
            uri = await self._call(
                ctx,
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
                session_uri=uri,
            )
            session.uri = uri
            session.since = session.since or opening
            session.last_chunk_sent = False
        uri = session.uri
        recorded_at = time.monotonic()
        while True:
            first, size = offset, min(self._chunk, total - offset)
            if first + size >= total:
                # the last chunk makes the video: the account may have been disconnected,
                # reconnected or moved to another client since a cached lease was read
                await ctx.confirm_lease()
                await self._store.record_last_chunk(command.target_id)
                session.last_chunk_sent = True
            try:
                status = await self._call(
                    ctx,
                    partial(
                        self._uploads.put_chunk,
                        session_uri=uri,
                        path=path,
                        first=first,
                        size=size,
                        total=total,
                        content_type=media.content_type,
                        progress=ctx.progress,  # as the chunk streams (32 MiB by default)
                    ),
                )
            except SessionExpired:
                await self._store.forget_session(command.target_id)
                session.uri = None
                raise Transient(
                    "the upload session expired; starting a new one", status=404
                ) from None
            except Rejected:
                # e.g. another replica moved the session on after a rebalance:
                # believe the session's own account before calling it permanent
                status = await self._call(
                    ctx, partial(self._uploads.query_status, session_uri=uri, total=total)
                )
                if status.video is None and status.received == first:
                    raise
            if status.video is not None:
                return status.video
            if status.received <= first:
                raise Transient(f"YouTube kept none of the bytes sent from {first}")
            offset = status.received
            if offset < first + size:  # YouTube kept less than went out: say so
                await ctx.progress(offset, total)
            if time.monotonic() - recorded_at >= self._record_every_s:
                recorded_at = time.monotonic()
                await self._store.record_progress(command.target_id, offset)

    async def _look_up(
        self, ctx: Context, options: YouTubeOptions, session: _Session
    ) -> UploadedVideo | None:
        """This target's video if an earlier session finished it (see the module docstring).

        Raises the ``unknown`` :class:`Outcome` when it cannot look (no reading scope) and an
        earlier session's last chunk went out, unless this attempt is the client's own
        "publish again" after that answer."""
        command = ctx.command
        size = command.video().size
        since = session.since
        assert since is not None
        try:
            found = await self._call(
                ctx,
                lambda t: self._uploads.find_uploaded(
                    t, title=options.title, size=size, since=since
                ),
            )
        except CannotLookUp:
            asked_again = (
                session.unknown_reported_attempt is not None
                and command.attempt > session.unknown_reported_attempt
            )
            if session.last_chunk_sent and not asked_again:
                logger.warning(
                    "target %s: an earlier session's last chunk went out and the token may "
                    "not list the channel's uploads; outcome unknown, not uploading again",
                    command.target_id,
                )
                await self._store.unknown_reported(command.target_id, command.attempt)
                raise outcome.unknown("YouTube", "channel", no_lookup=True) from None
            logger.warning(
                "target %s: the token may not list the channel's uploads; opening a new "
                "session (%s)",
                command.target_id,
                "the client asked to publish again"
                if asked_again
                else "no earlier session's last chunk went out",
            )
            return None
        if found is not None:
            logger.info(
                "target %s: an earlier session had finished as video %s; not uploading again",
                ctx.command.target_id,
                found.id,
            )
        return found

    async def _resume_point(self, ctx: Context, uri: str, total: int) -> SessionStatus | None:
        """Where a recorded session stands, or None when it expired (forgotten)."""
        try:
            return await self._call(ctx, lambda t: self._uploads.query_status(t, uri, total=total))
        except SessionExpired:
            await self._store.forget_session(ctx.command.target_id)
            return None


@dataclass
class _Session:
    """The session URI one delivery resumes (None: open a new one), since when a session
    of this target may have finished (None: none was ever opened), whether the current
    session's last chunk went out, and the attempt answered ``unknown`` (if any)."""

    uri: str | None = None
    since: datetime | None = None
    last_chunk_sent: bool = False
    unknown_reported_attempt: int | None = None

    def __repr__(self) -> str:  # the session URI is a credential for the upload
        return f"_Session({'***' if self.uri else None})"


def _published(video: UploadedVideo) -> Published:
    return Published(remote_id=video.id, remote_url=video.watch_url)
