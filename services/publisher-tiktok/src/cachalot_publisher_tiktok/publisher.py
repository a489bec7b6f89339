"""Publishing one video to one TikTok account, safely against redelivery.

Fresh: ``creator_info`` (the person's choices allowed for this account now?
:func:`reasons.against_creator_info`; an answer is kept a few seconds per account,
:mod:`creators`) →
``video/init`` → record the ``publish_id`` → PUT each chunk, streamed from
the media store with progress as it goes (:func:`cachalot_publishing.spans.read_span`)
→ poll ``status/fetch``. Redelivered (a session is
recorded): ask TikTok where it stands, resume the upload from the bytes it
has, or go straight to polling, and never init again while that post could
still complete.

The runtime (``cachalot_publishing``) does the rest: leases and the 401
rule (``ctx.call_with_token``), the media check, results, and waits
(``ctx.sleep``: polling and rate limits give the publish slot back, and a
wait past the in-process maximum goes back to the queue as ``retryable``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import anyio

from cachalot_common.events import PublishPost, TikTokOptions
from cachalot_publisher_tiktok import photos, reasons
from cachalot_publisher_tiktok.chunking import ChunkPlan, VideoTooLarge, plan_chunks
from cachalot_publisher_tiktok.creators import CreatorInfoCache
from cachalot_publisher_tiktok.limiter import AccountLimiter, Endpoint
from cachalot_publisher_tiktok.sessions import NewSession, RecordedSession, SessionStore
from cachalot_publisher_tiktok.settings import Settings
from cachalot_publisher_tiktok.tiktok import (
    CreatorInfo,
    PublishStatus,
    TikTokApiError,
    TikTokClient,
    TikTokUnreachable,
)
from cachalot_publishing import outcome
from cachalot_publishing.outcome import Outcome, Published, failed, retryable
from cachalot_publishing.ports import Context, TokenRejected
from cachalot_publishing.spans import read_span

logger = logging.getLogger(__name__)
T = TypeVar("T")
UPLOAD_URL_LIFETIME = timedelta(minutes=55)  # TikTok: 1 hour; keep a margin


class TikTokPlatform:
    """The TikTok steps behind :class:`cachalot_publishing.ports.Platform`."""

    def __init__(
        self,
        *,
        settings: Settings,
        tiktok: TikTokClient,
        sessions: SessionStore,
        limiter: AccountLimiter,
        creators: CreatorInfoCache | None = None,
    ) -> None:
        self.settings = settings
        self.tiktok = tiktok
        self.sessions = sessions
        self.limiter = limiter
        self.creators = creators or CreatorInfoCache(settings.tiktok_creator_info_ttl_s)

    async def publish(self, command: PublishPost, ctx: Context) -> Published:
        """Publish ``command``'s video, resuming a recorded publish instead of starting anew."""
        if not isinstance(command.options, TikTokOptions):
            raise failed(outcome.WRONG_PLATFORM, "Not a TikTok post.")
        if command.kind == "photo":
            return await photos.publish(self, command, ctx)
        latest = await self.sessions.latest(command.target_id)
        if latest is not None:
            if latest.state == "published":
                return Published(latest.remote_id or latest.publish_id, latest.remote_url)
            if latest.state == "failed" and latest.attempt >= command.attempt:
                raise failed(latest.fail_code or "failed", latest.fail_reason or "")
            if latest.state in ("uploading", "uploaded"):
                resumed = await self._resume(ctx, latest)
                if resumed is not None:
                    return resumed
        return await self._fresh(ctx, command.options)

    async def _call(
        self, ctx: Context, endpoint: Endpoint, request: Callable[[str], Awaitable[T]]
    ) -> T:
        """One rate-limited TikTok call; a 401 gets the runtime's one forced lease refresh."""

        async def attempt(token: str) -> T:
            account = ctx.command.account_id
            while (wait_s := self.limiter.wait_s(account, endpoint)) > 0:
                await ctx.sleep(
                    wait_s,
                    code=outcome.RATE_LIMITED,
                    reason=f"TikTok allows few {endpoint} calls per minute; will retry.",
                )
            try:
                return await request(token)
            except TikTokApiError as error:
                if error.code == "access_token_invalid":
                    raise TokenRejected from None
                raise

        try:
            return await ctx.call_with_token(attempt)
        except (TikTokApiError, TikTokUnreachable) as error:
            raise reasons.from_api_error(error) from None

    async def checked_init(
        self,
        ctx: Context,
        options: TikTokOptions,
        init: Callable[[str], Awaitable[T]],
        *,
        duration_s: float | None,
        photo: bool,
    ) -> tuple[T, CreatorInfo]:
        """``init``'s answer, called once the person's choices hold against ``creator_info``
        (:func:`reasons.against_creator_info`) and auth confirmed the lease, and that answer.

        ``creator_info`` kept for this account (:mod:`creators`) stands in for a live one
        when it allows the post; a kept answer that refuses it, or an ``init`` that fails
        for good after one, is asked again, so that a refusal always says what TikTok says
        now. Raises the refusal (an ``Outcome``), or the ``Outcome`` that ended the
        ``creator_info`` call, auth's confirmation of the lease or ``init``.
        """
        account = ctx.command.account_id
        kept = self.creators.get(account)
        info = kept

        def refusal(info: CreatorInfo) -> Outcome | None:
            return reasons.against_creator_info(options, info, duration_s=duration_s, photo=photo)

        if info is None or refusal(info) is not None:
            info = await self._creator_info(ctx)
            if (refused := refusal(info)) is not None:
                raise refused
        await ctx.confirm_lease()  # the account may have been disconnected since the lease
        try:
            return await self._call(ctx, "init", init), info
        except Outcome as ending:
            if info is not kept:
                raise
            self.creators.forget(account)
            if ending.kind != "failed":
                raise
            raise refusal(await self._creator_info(ctx)) or ending from None

    async def _creator_info(self, ctx: Context) -> CreatorInfo:
        """TikTok's ``creator_info`` for the command's account now (kept for the next)."""
        info = await self._call(ctx, "creator_info", self.tiktok.creator_info)
        self.creators.put(ctx.command.account_id, info)
        return info

    async def _fresh(self, ctx: Context, options: TikTokOptions) -> Published:
        command = ctx.command
        path = ctx.media_file()
        try:
            plan = plan_chunks(command.video().size, self.settings.tiktok_chunk_size)
        except VideoTooLarge as error:
            raise failed("video_too_large", f"{error}.") from None  # it names TikTok
        post_info = _post_info(options)

        async def init(token: str) -> tuple[str, str]:
            return await self.tiktok.init_direct_post(token, post_info, plan)

        (publish_id, upload_url), info = await self.checked_init(
            ctx, options, init, duration_s=command.video().duration_sec, photo=False
        )
        await self.sessions.record(
            NewSession(
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
        )
        logger.info("target %s: TikTok publish %s started", command.target_id, publish_id)
        await self._upload(ctx, publish_id, upload_url, plan, path, offset=0)
        return await self._poll(ctx, publish_id, info.username)

    async def _resume(self, ctx: Context, row: RecordedSession) -> Published | None:
        """Carry on a recorded publish; None when it can never complete (start anew)."""
        status = await self._status(ctx, row.publish_id)
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
            await self._upload(
                ctx,
                row.publish_id,
                row.upload_url,
                plan,
                ctx.media_file(),
                offset=status.uploaded_bytes,
            )
        return await self._poll(ctx, row.publish_id, row.creator_username)

    async def _upload(
        self,
        ctx: Context,
        publish_id: str,
        upload_url: str,
        plan: ChunkPlan,
        path: Path,
        *,
        offset: int,
    ) -> None:
        """PUT the chunks from ``offset`` on, each streamed (its progress reported as its
        bytes leave), each retried a few times."""
        failures = 0
        while offset < plan.video_size:
            try:
                first, length = plan.span(plan.index_at(offset))
            except ValueError:  # TikTok holds a partial chunk: this upload cannot go on
                await self.sessions.mark(publish_id, "abandoned", fail_code="upload_offset")
                raise retryable(
                    "upload_offset", "TikTok holds a partial chunk; will start again.", 0
                ) from None
            try:
                answer = await self.tiktok.put_chunk(
                    upload_url,
                    read_span(
                        path,
                        first,
                        length,
                        self.settings.tiktok_read_bytes,
                        progress=ctx.progress,  # as the chunk streams (a chunk may be 64 MB)
                        total=plan.video_size,
                    ),
                    first=first,
                    length=length,
                    total=plan.video_size,
                    content_type=ctx.command.video().content_type,
                )
            except OSError as error:  # the media store let us down mid-chunk
                raise retryable(
                    outcome.MEDIA_UNREADABLE,
                    f"The video could not be read ({type(error).__name__}); will retry.",
                    30,
                ) from None
            except (TikTokUnreachable, TikTokApiError) as error:
                status_code = getattr(error, "status", None)
                if status_code in (403, 404):
                    await self.sessions.mark(publish_id, "abandoned", fail_code="upload_expired")
                    raise retryable(
                        outcome.UPLOAD_EXPIRED,
                        "TikTok's upload URL expired; will start again.",
                        0,
                    ) from None
                if status_code == 400:
                    ending = reasons.from_api_error(error)
                    await self.sessions.mark(
                        publish_id, "failed", fail_code=ending.code, fail_reason=ending.reason
                    )
                    raise ending from None
                failures += 1
                if failures > self.settings.tiktok_chunk_retries:
                    if status_code == 416:
                        # TikTok still takes another PUT of this upload (a killed process's
                        # last chunk, its body draining from a socket): resumed, not failed
                        raise retryable(
                            outcome.UPLOAD_CONFLICT,
                            "TikTok is still receiving an earlier part of the upload; will resume.",
                            30,
                        ) from None
                    raise reasons.from_api_error(error) from None
                logger.info(
                    "publish %s: chunk at %s failed (%s); re-syncing", publish_id, first, error
                )
                await ctx.sleep(
                    min(0.2 * 2**failures, 5.0),
                    code=outcome.NETWORK,
                    reason="A TikTok upload chunk failed; will retry.",
                )
                offset = (await self._status(ctx, publish_id)).uploaded_bytes
                continue
            offset = first + length
            failures = 0
            if answer.status == 201:
                break
        # no "uploaded" mark: a redelivered command asks TikTok's status anyway
        # ("uploading" resumes exactly as "uploaded" did), so it saved nothing

    async def _poll(self, ctx: Context, publish_id: str, username: str | None) -> Published:
        """Ask TikTok until the publish completes or fails; each wait frees the slot."""
        deadline = anyio.current_time() + self.settings.tiktok_status_timeout_s
        while True:
            status = await self._status(ctx, publish_id)
            if status.status in ("PUBLISH_COMPLETE", "FAILED"):
                return await self._finish(publish_id, username, status)
            if anyio.current_time() >= deadline:
                raise retryable(
                    outcome.PROCESSING_TIMEOUT,
                    "TikTok is still processing the video; will check again.",
                    60,
                )
            await ctx.sleep(
                self.settings.tiktok_status_poll_s,
                code=outcome.PROCESSING_TIMEOUT,
                reason="TikTok is still processing the video; will check again.",
            )

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
        ending = reasons.from_fail_reason(status.fail_reason)
        state = "failed" if ending.kind == "failed" else "abandoned"
        await self.sessions.mark(
            publish_id, state, fail_code=ending.code, fail_reason=ending.reason
        )
        raise ending

    async def _status(self, ctx: Context, publish_id: str) -> PublishStatus:
        async def fetch(token: str) -> PublishStatus:
            return await self.tiktok.fetch_status(token, publish_id)

        return await self._call(ctx, "status", fetch)


def _post_info(options: TikTokOptions) -> dict[str, Any]:
    """post_info for init, as the person chose it (already held against ``creator_info``
    by :func:`reasons.against_creator_info`)."""
    info: dict[str, Any] = {
        "title": options.caption,
        "privacy_level": options.privacy_level,
        "disable_comment": options.disable_comment,
        "disable_duet": options.disable_duet,
        "disable_stitch": options.disable_stitch,
        "brand_content_toggle": options.brand_content_toggle,
        "brand_organic_toggle": options.brand_organic_toggle,
        "is_aigc": options.is_aigc,
    }
    if options.video_cover_timestamp_ms is not None:
        info["video_cover_timestamp_ms"] = options.video_cover_timestamp_ms
    return info
