"""Publishing one post to one Instagram account through containers, safely against redelivery.

Instagram fetches the media itself, from the signed link the queue put in
each file's ``MediaRef.url`` (issue 10 item 2). Order of work for a target:

1. a recorded media id → ``published`` again, nothing sent to Instagram;
2. a recorded container → read its ``status_code`` and carry on from there
   (``PUBLISHED`` without a recorded media id: the crash fell between
   ``media_publish`` and the record; nothing is published again, and the
   post is found among the account's recent media by its caption and time,
   or else the container id stands for it; ``ERROR``/``EXPIRED``/unknown:
   forgotten, and new ones made; a container that ended in ``ERROR`` in an
   earlier attempt is spent: the client's Retry makes new ones, while a
   redelivery of the same attempt reads it again and fails the same way);
3. otherwise make the container(s), recording each id as Instagram answers:
   a video → one ``REELS`` container (``video_url``, ``caption``,
   ``share_to_feed``); one image → one image container (``image_url``);
   2–10 images → one carousel item per image (``is_carousel_item``), polled
   until each is ``FINISHED``, then the ``CAROUSEL`` container (``children``);
4. poll ``status_code`` every ``poll_interval_s`` through ``ctx.sleep`` (the
   slot is freed while Instagram works); past ``poll_max_s`` in one
   delivery the command goes back to the queue as retryable
   (``processing_timeout``) with the container recorded, so the next
   delivery polls the same container;
5. ``ERROR`` → a reason a person can act on (:mod:`reasons`), retryable when
   a new container may succeed; ``EXPIRED`` → new containers;
6. read ``content_publishing_limit``: the quota used up → the wait
   ``publishing_quota_used`` (no attempt used) until the window frees (the oldest publish
   this service made in the window, plus the window; else ``quota_retry_s``);
7. ``media_publish`` (only now, only ``FINISHED``), record the media id at
   once, read the permalink, answer ``published``.

Making a container is not a post (nothing is visible until ``media_publish``),
so a container made twice costs only one of the 400 a day; ``media_publish``
runs only for the recorded container, after its status is read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, TypeVar

from cachalot_common.events import InstagramOptions, MediaRef, PublishPost
from cachalot_common.platforms import label_of
from cachalot_publisher_instagram.graph import (
    ContainerStatus,
    GraphError,
    InstagramGraph,
    NotFound,
    PermissionMissing,
    PublishingLimit,
    QuotaUsed,
    RecentMedia,
    Refused,
    Transient,
    Unauthorized,
)
from cachalot_publisher_instagram.reasons import CODES, container_failure, quota_reason
from cachalot_publisher_instagram.store import ContainerStore
from cachalot_publishing import outcome
from cachalot_publishing.outcome import Published, failed, retryable
from cachalot_publishing.ports import Context, TokenRejected

logger = logging.getLogger(__name__)

T = TypeVar("T")
LABEL: Final = label_of("instagram")  # the registry's
QUOTA_USED = "publishing_quota_used"  # Instagram's own: the rolling 24 h publishing limit
MEDIA_LINK_MISSING = "media_link_missing"
UNSUPPORTED_KIND = "unsupported_kind"
PERMISSION_MISSING = "permission_missing"
GRAPH_REFUSED = "graph_"
"""The prefix of a refusal by the Graph API, followed by its error code (``graph_100``)."""
OWN_CODES: Final = frozenset(
    {*CODES, QUOTA_USED, MEDIA_LINK_MISSING, UNSUPPORTED_KIND, PERMISSION_MISSING}
)
"""Instagram's codes besides the shared ones (:mod:`cachalot_publishing.outcome`) and the
``graph_<code>`` family: each worded by the dashboard (web/words.js)."""
TRANSIENT_RETRY_S = 30.0
LOOKUP_SKEW = timedelta(minutes=10)  # our clock against Instagram's timestamps


@dataclass(frozen=True, slots=True)
class Polling:
    """How often a container's status is read, and for how long in one delivery."""

    interval_s: float = 5.0
    max_s: float = 120.0


class _Gone(Exception):
    """The recorded containers are of no use any more (ERROR to retry, EXPIRED, unknown)."""


class InstagramPlatform:
    """The Instagram steps behind :class:`cachalot_publishing.ports.Platform`."""

    def __init__(
        self,
        *,
        store: ContainerStore,
        graph: InstagramGraph,
        polling: Polling,
        quota_retry_s: float = 3600.0,
    ) -> None:
        self._store = store
        self._graph = graph
        self._polling = polling
        self._quota_retry_s = quota_retry_s

    async def publish(self, command: PublishPost, ctx: Context) -> Published:
        """Publish ``command`` once per target; raises :class:`~cachalot_publishing.outcome.Outcome`
        otherwise (``failed`` with a reason, ``retryable`` with ``retry_after_s``, ``reauth``)."""
        options = command.options
        if not isinstance(options, InstagramOptions):
            raise failed(outcome.WRONG_PLATFORM, "Not an Instagram post.")
        record = await self._store.get(command.target_id)
        if record is not None and record.media_id is not None:
            return Published(remote_id=record.media_id, remote_url=record.permalink)
        files = command.files()
        if command.kind not in ("video", "photo") or not files:
            raise failed(
                UNSUPPORTED_KIND,
                f"Instagram cannot take {command.kind} posts; post a video "
                "(a Reel) or 1–10 JPEG images.",
            )
        for ref in files:
            ctx.media_file(ref)  # the runtime's check: in the store, of its recorded size
            if not ref.url:
                raise failed(
                    MEDIA_LINK_MISSING,
                    "Instagram fetches media from a public link, and the queue made none: set "
                    "CACHALOT_PUBLIC_URL on the queue to the address Instagram can reach.",
                )
        if record is not None and record.made_from not in (None, command.made_from):
            # the client changed the post after a failure: the containers hold the old
            # media and caption (rows from before made_from was kept are trusted)
            await self._store.forget_containers(command.target_id)
            record = None
        elif record is not None and (record.failed_attempt or command.attempt) < command.attempt:
            # the container ended in ERROR in an earlier attempt: it is spent, and polling it
            # again only repeats the failure; a new attempt (Retry) makes a new container
            await self._store.forget_containers(command.target_id)
            record = None
        started = time.monotonic()
        try:
            container = record.container_id if record is not None else None
            children = list(record.children) if record is not None else []
            while True:
                try:
                    if container is None:
                        container = await self._make(ctx, options, files, children, started)
                    status = await self._settle(ctx, container, started)
                    break
                except _Gone:
                    await self._store.forget_containers(command.target_id)
                    container, children = None, []
            if status.status_code == "PUBLISHED":  # published before the media id was recorded
                logger.warning(
                    "target %s: container %s was already published; not publishing again",
                    command.target_id,
                    container,
                )
                since = record.created_at if record is not None else datetime.now(UTC)
                found = await self._find_published(ctx, options.caption, since)
                remote = found.id if found is not None else container
                at = (found.published_at if found is not None else None) or datetime.now(UTC)
                await self._store.record_media(command.target_id, remote, at)
                if found is not None and found.permalink:
                    await self._store.record_permalink(command.target_id, found.permalink)
                return Published(remote_id=remote, remote_url=found.permalink if found else None)
            await self._check_quota(ctx)
            await ctx.confirm_lease()  # disconnected while the container was processed?
            media_id = await self._call(ctx, lambda t: self._graph.publish(t, container))
            await self._store.record_media(command.target_id, media_id, datetime.now(UTC))
            logger.info("target %s published as Instagram media %s", command.target_id, media_id)
            link = await self._permalink(ctx, media_id)
            return Published(remote_id=media_id, remote_url=link)
        except QuotaUsed:
            raise outcome.wait(
                QUOTA_USED,
                "Instagram: this account reached its publishing limit (Instagram refused "
                "media_publish); the post goes out when the limit frees.",
                await self._quota_wait(command, None),
            ) from None
        except Transient as error:
            raise _transient(error) from None
        except PermissionMissing:
            raise outcome.reauth(
                "Instagram: the account did not allow publishing; reconnect Instagram and allow "
                "content publishing.",
                code=PERMISSION_MISSING,
            ) from None
        except (Refused, NotFound) as error:
            raise failed(
                f"{GRAPH_REFUSED}{error.code or error.status}",
                f"Instagram refused the post: {error.message}",
            ) from None

    async def _call(self, ctx: Context, call: Callable[[str], Awaitable[T]]) -> T:
        """One Graph call with the account's token; a 401 gets the runtime's one refresh."""

        async def attempt(token: str) -> T:
            try:
                return await call(token)
            except Unauthorized:
                raise TokenRejected from None

        return await ctx.call_with_token(attempt)

    async def _make(
        self,
        ctx: Context,
        options: InstagramOptions,
        files: list[MediaRef],
        children: list[str],
        started: float,
    ) -> str:
        """Make (and record) the container to publish; a carousel's items first."""
        command = ctx.command
        ids = {"target_id": command.target_id, "post_id": command.post_id}
        ids_account = {**ids, "account_id": command.account_id}
        made_from = command.made_from
        if command.kind == "video":
            fields = {
                "media_type": "REELS",
                "video_url": str(files[0].url),
                "caption": options.caption,
                "share_to_feed": "true" if options.share_to_feed else "false",
            }
        elif len(files) == 1:
            fields = {"image_url": str(files[0].url), "caption": options.caption}
        else:
            for ref in files[len(children) :]:
                child = await self._call(
                    ctx,
                    lambda t, ref=ref: self._graph.create_container(  # type: ignore[misc]
                        t, {"image_url": str(ref.url), "is_carousel_item": "true"}
                    ),
                )
                children.append(child)
                await self._store.record_children(
                    **ids_account, made_from=made_from, children=children
                )
            for child in children:
                status = await self._settle(ctx, child, started)
                if status.status_code != "FINISHED":
                    raise _Gone
            fields = {
                "media_type": "CAROUSEL",
                "children": ",".join(children),
                "caption": options.caption,
            }
        container = await self._call(ctx, lambda t: self._graph.create_container(t, fields))
        await self._store.record_container(
            **ids_account, made_from=made_from, container_id=container
        )
        logger.info(
            "target %s: Instagram container %s made (%s)",
            command.target_id,
            container,
            command.kind,
        )
        return container

    async def _settle(self, ctx: Context, container: str, started: float) -> ContainerStatus:
        """Poll ``container`` until it is FINISHED or PUBLISHED; raises :class:`_Gone`, the
        ``failed``/``retryable`` Outcome of an ERROR, or ``processing_timeout``."""
        while True:
            try:
                status = await self._call(ctx, lambda t: self._graph.container_status(t, container))
            except NotFound:
                raise _Gone from None
            if status.status_code in ("FINISHED", "PUBLISHED"):
                return status
            if status.status_code == "EXPIRED":
                raise _Gone
            if status.status_code == "ERROR":
                failure = container_failure(status.status, status.subcode, ctx.command.kind)
                logger.warning(
                    "target %s: Instagram container %s ended in ERROR (%s)",
                    ctx.command.target_id,
                    container,
                    failure.code,
                )
                if failure.operator_hint:
                    logger.error("operator: %s (%s)", failure.operator_hint, failure.code)
                # every reason starts "Instagram …": no label prefix
                if failure.retry:
                    await self._store.forget_containers(ctx.command.target_id)
                    raise retryable(failure.code, failure.reason, TRANSIENT_RETRY_S)
                await self._store.record_failure(ctx.command.target_id, ctx.command.attempt)
                raise failed(failure.code, failure.reason)
            reason = "Instagram is still processing the media; checking again later."
            if time.monotonic() - started >= self._polling.max_s:
                raise retryable(outcome.PROCESSING_TIMEOUT, reason, self._polling.interval_s)
            await ctx.sleep(
                self._polling.interval_s, code=outcome.PROCESSING_TIMEOUT, reason=reason
            )

    async def _check_quota(self, ctx: Context) -> None:
        """Raise the ``wait`` Outcome when the rolling publishing quota is used up."""
        limit = await self._call(ctx, self._graph.publishing_limit)
        if limit.used < limit.total:
            return
        raise outcome.wait(
            QUOTA_USED,
            quota_reason(limit.used, limit.total, limit.duration_s),
            await self._quota_wait(ctx.command, limit),
        )

    async def _quota_wait(self, command: PublishPost, limit: PublishingLimit | None) -> float:
        """Seconds until the oldest publish this service made in the window leaves it
        (``limit``: Instagram's answer, None when ``media_publish`` itself refused)."""
        total = limit.total if limit is not None else None
        duration_s = float(limit.duration_s if limit is not None else 86400)
        now = datetime.now(UTC)
        ours = await self._store.published_since(
            command.account_id, now - timedelta(seconds=duration_s)
        )
        if total is not None and ours and len(ours) >= total:
            oldest = ours[len(ours) - total]
            return max(1.0, (oldest + timedelta(seconds=duration_s) - now).total_seconds())
        if total is None and ours:
            return max(1.0, (ours[0] + timedelta(seconds=duration_s) - now).total_seconds())
        return min(self._quota_retry_s, duration_s)

    async def _find_published(
        self, ctx: Context, caption: str, since: datetime
    ) -> RecentMedia | None:
        """The account's post this target's container became (its container was PUBLISHED but
        the media id never recorded): the oldest recent post with the target's caption
        published since its first container (less a skew for the clocks). None when none
        matches: the container id then stands for the post."""
        try:
            recent = await self._call(ctx, self._graph.recent_media)
        except GraphError as error:
            logger.warning("recent media unreadable (%s)", type(error).__name__)
            return None
        after = since - LOOKUP_SKEW
        matches = [
            m
            for m in recent
            if m.caption == caption and (m.published_at is None or m.published_at >= after)
        ]
        matches.sort(key=lambda m: m.published_at or after)
        return matches[0] if matches else None

    async def _permalink(self, ctx: Context, media_id: str) -> str | None:
        """The post's permalink; a failure to read it does not undo the publish."""
        try:
            link = await self._call(ctx, lambda t: self._graph.permalink(t, media_id))
        except GraphError as error:
            logger.warning("permalink of %s unreadable (%s)", media_id, type(error).__name__)
            return None
        if link is not None:
            await self._store.record_permalink(ctx.command.target_id, link)
        return link


def _transient(error: Transient) -> outcome.Outcome:
    if error.status == 429 or error.code in (4, 17, 32, 613):
        return outcome.rate_limited(LABEL, error.retry_after_s or 60.0)
    if error.status is None:
        return outcome.network(LABEL, error.message)
    return outcome.unavailable(LABEL, error.status, error.retry_after_s or TRANSIENT_RETRY_S)
