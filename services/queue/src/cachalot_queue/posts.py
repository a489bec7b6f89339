"""The posts service layer: create, read, cancel, retry, always within one client.

Input the schema cannot check alone (the media and accounts belong to the
client, the platform block matches the account, the time is not past) is
checked here against the database, and every problem is reported at once,
each naming its field the way the client wrote it (``targets[1].youtube``).
A post of another client is simply not found (404), never "forbidden".
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from cachalot_common import platforms
from cachalot_common.problems import Problem
from cachalot_queue.paging import cut_page, newest_first
from cachalot_queue.schemas import (
    MediaExport,
    PostCreate,
    PostPublic,
    PostsExport,
    TargetCreate,
    TargetPublic,
)
from cachalot_queue.states import CANCELLABLE, IN_FLIGHT, Change, account_loss
from cachalot_queue.tables import Account, Media, Post, Target
from cachalot_queue.transitions import account_views, announce, apply_change

MAX_SCHEDULE_AHEAD: Final = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class Created:
    post: PostPublic
    replayed: bool


def _error(
    field: str, message: str, kind: str = "value_error", where: str = "body"
) -> dict[str, Any]:
    return {"field": field, "in": where, "message": message, "type": kind}


def _invalid(errors: list[dict[str, Any]]) -> Problem:
    names = ", ".join(e["field"] for e in errors)
    return Problem(422, f"Invalid input: {names}.", errors=errors)


def request_hash(body: PostCreate) -> str:
    return hashlib.sha256(body.model_dump_json().encode()).hexdigest()


class PostService:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        reader: async_sessionmaker[AsyncSession] | None = None,
        schedule_grace_s: float,
    ) -> None:
        self._factory = factory
        self._reader = reader or factory
        self._grace = timedelta(seconds=schedule_grace_s)

    async def create(
        self, *, client_id: UUID, body: PostCreate, idempotency_key: str | None, now: datetime
    ) -> Created:
        digest = request_hash(body)
        if idempotency_key is not None:
            existing = await self._replay(client_id, idempotency_key, digest)
            if existing is not None:
                return Created(existing, replayed=True)
        # Checks read outside the write transaction, which then only inserts:
        # an account that changes meanwhile is handled by its event like any other.
        async with self._reader() as reading:
            post = await self._build(reading, client_id, body, now)
        try:
            async with self._factory() as session, session.begin():
                # the video may have been deleted since it was checked; held until commit
                if await _media_kept(session, client_id, post.media_id) is None:
                    raise _invalid([_error("media_id", "no such media; it was just deleted")])
                post.idempotency_key = idempotency_key
                post.request_hash = digest if idempotency_key else None
                session.add(post)
                for target in post.targets:
                    announce(session, target, None, Change(status="scheduled"))
                public = to_public(post)
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = await self._replay(client_id, idempotency_key, digest)
            if existing is None:
                raise
            return Created(existing, replayed=True)
        return Created(public, replayed=False)

    async def _replay(self, client_id: UUID, key: str, digest: str) -> PostPublic | None:
        async with self._reader() as session:
            post = await session.scalar(
                _with_targets(select(Post)).where(
                    Post.client_id == client_id, Post.idempotency_key == key
                )
            )
        if post is None:
            return None
        if post.request_hash != digest:
            raise Problem(
                422,
                "This Idempotency-Key was already used for a different request; "
                "use a new key for a new post.",
                title="Idempotency-Key reused",
                errors=[
                    _error("Idempotency-Key", "already used with another body", where="header")
                ],
            )
        async with self._reader() as session:
            gone = await deleted_media(session, [post])
        return to_public(post, media_deleted=post.media_id in gone)

    async def _build(
        self, session: AsyncSession, client_id: UUID, body: PostCreate, now: datetime
    ) -> Post:
        errors: list[dict[str, Any]] = []
        media = await session.get(Media, body.media_id)
        if media is None or media.client_id != client_id:
            errors.append(_error("media_id", "no such media; upload it with POST /api/v1/media"))
            media = None
        elif media.kind != "video":
            errors.append(_error("media_id", "is an image; a video post needs a video"))
            media = None
        scheduled_at = body.scheduled_at or now
        if scheduled_at < now - self._grace:
            errors.append(_error("scheduled_at", "is in the past; leave it out to publish now"))
        elif scheduled_at > now + MAX_SCHEDULE_AHEAD:
            errors.append(_error("scheduled_at", "is more than a year ahead"))
        scheduled_at = max(scheduled_at, now)
        ids = [t.account_id for t in body.targets]
        found = await session.scalars(
            select(Account).where(Account.id.in_(ids), Account.client_id == client_id)
        )
        accounts = {a.id: a for a in found.all()}
        post_id = uuid4()
        post = Post(
            id=post_id,
            client_id=client_id,
            media_id=body.media_id,
            scheduled_at=scheduled_at,
            created_at=now,
        )
        seen: set[UUID] = set()
        targets: list[Target] = []
        for index, item in enumerate(body.targets):
            where = f"targets[{index}]"
            account = accounts.get(item.account_id)
            if item.account_id in seen:
                errors.append(_error(f"{where}.account_id", "this account is listed twice"))
                continue
            seen.add(item.account_id)
            if account is None:
                errors.append(_error(f"{where}.account_id", "not one of your connected accounts"))
                continue
            spec = platforms.find(account.platform)
            name = platforms.label_of(account.platform)
            if account.status != "connected":
                message = (
                    f"this {name} account must be reconnected first"
                    if account.status == "reauth_required"
                    else f"this {name} account is disconnected"
                )
                errors.append(_error(f"{where}.account_id", message))
                continue
            if spec is None or not spec.publishable:
                errors.append(
                    _error(f"{where}.account_id", f"publishing to {name} is not supported yet")
                )
                continue
            options, problems = _target_options(spec, item, media, where)
            errors += problems
            if options is None:
                continue
            targets.append(
                Target(
                    id=uuid4(),
                    post_id=post_id,
                    position=index,
                    client_id=client_id,
                    account_id=account.id,
                    platform=account.platform,
                    options=options,
                    status="scheduled",
                    attempt=0,
                    budget_start=0,
                    reconciles=0,
                    due_at=scheduled_at,
                    updated_at=now,
                )
            )
        if errors:
            raise _invalid(errors)
        post.targets = targets
        return post

    async def get(self, *, client_id: UUID, post_id: UUID) -> PostPublic:
        async with self._reader() as session:
            post = await session.scalar(
                _with_targets(select(Post)).where(Post.id == post_id, Post.client_id == client_id)
            )
            gone = await deleted_media(session, [post] if post else [])
        if post is None:
            raise _not_found()
        return to_public(post, media_deleted=post.media_id in gone)

    async def page(
        self, *, client_id: UUID, limit: int, cursor: str | None
    ) -> tuple[list[PostPublic], str | None]:
        query = newest_first(
            _with_targets(select(Post)).where(Post.client_id == client_id),
            created_at=Post.created_at,
            id_=Post.id,
            cursor=cursor,
            limit=limit,
        )
        async with self._reader() as session:
            posts, next_cursor = cut_page(list((await session.scalars(query)).all()), limit)
            gone = await deleted_media(session, posts)
        return [to_public(p, media_deleted=p.media_id in gone) for p in posts], next_cursor

    async def export(self, *, client_id: UUID) -> PostsExport:
        """Every post and video of the client, for its data export."""
        async with self._reader() as session:
            posts = (
                await session.scalars(
                    _with_targets(select(Post))
                    .where(Post.client_id == client_id)
                    .order_by(Post.created_at, Post.id)
                )
            ).all()
            media = (
                await session.scalars(
                    select(Media).where(Media.client_id == client_id).order_by(Media.created_at)
                )
            ).all()
        kept = {m.id for m in media}
        return PostsExport(
            posts=[to_public(p, media_deleted=p.media_id not in kept) for p in posts],
            media=[MediaExport.model_validate(m, from_attributes=True) for m in media],
        )

    async def cancel(self, *, client_id: UUID, post_id: UUID, now: datetime) -> PostPublic:
        """Cancel every target not yet handed to a publisher."""
        async with self._factory() as session, session.begin():
            post = await self._locked(session, client_id, post_id)
            pending = [t for t in post.targets if t.status in CANCELLABLE]
            if not pending and any(t.status in IN_FLIGHT for t in post.targets):
                raise Problem(
                    409,
                    "Too late to cancel: the post is already being published.",
                    title="Already publishing",
                )
            for target in pending:
                change = Change(
                    status="cancelled", reason="Cancelled by the client.", code="cancelled"
                )
                apply_change(session, target, change, now=now)
            gone = await deleted_media(session, [post])
            return to_public(post, media_deleted=post.media_id in gone)

    async def retry(self, *, client_id: UUID, post_id: UUID, now: datetime) -> PostPublic:
        """Queue failed targets again, with a fresh attempt budget.

        Only targets whose account the client still holds are retried (issue 8
        item 2): a target whose account was disconnected, erased or connected
        by someone else since is not. Raises ``Problem`` 404 (no such post of
        this client), 409 with one ``errors`` entry per target that cannot be
        retried, naming why, when nothing can be, and 409 when the post's video
        was deleted (``DELETE /api/v1/media/{id}`` allows that once the post is
        finished with it).
        """
        async with self._factory() as session, session.begin():
            post = await self._locked(session, client_id, post_id)
            failed = [t for t in post.targets if t.status == "failed"]
            accounts = await account_views(session, {t.account_id for t in failed})
            lost = {t.id: account_loss(t.client_id, accounts.get(t.account_id)) for t in failed}
            retryable = [t for t in failed if lost[t.id] is None]
            if not retryable:
                raise _cannot_retry(post, lost)
            # held (FOR SHARE) until commit, so a delete of the video waits for this retry
            if await _media_kept(session, client_id, post.media_id) is None:
                raise Problem(
                    409,
                    "This post's video was deleted, so it cannot be published again; "
                    "upload the video again and queue a new post.",
                    title="Video deleted",
                    type_="https://cachalot.dev/problems/media-deleted",
                    media_id=str(post.media_id),
                )
            for target in retryable:
                target.budget_start = target.attempt
                change = Change(status="scheduled", reason="Retry requested.", due_at=now)
                apply_change(session, target, change, now=now)
            return to_public(post)

    async def _locked(self, session: AsyncSession, client_id: UUID, post_id: UUID) -> Post:
        post = await session.scalar(
            select(Post)
            .options(selectinload(Post.targets))
            .where(Post.id == post_id, Post.client_id == client_id)
        )
        if post is None:
            raise _not_found()
        locked = select(Target).where(Target.post_id == post_id).with_for_update()
        await session.execute(locked.execution_options(populate_existing=True))
        return post


async def deleted_media(session: AsyncSession, posts: Sequence[Post]) -> set[UUID]:
    """The media ids of ``posts`` whose video was deleted (its row is gone)."""
    wanted = {p.media_id for p in posts}
    if not wanted:
        return set()
    kept = await session.scalars(select(Media.id).where(Media.id.in_(wanted)))
    return wanted - set(kept.all())


async def _media_kept(session: AsyncSession, client_id: UUID, media_id: UUID) -> UUID | None:
    """``media_id`` if the client still keeps that video, share-locked to the transaction's end."""
    query = select(Media.id).where(Media.id == media_id, Media.client_id == client_id)
    return await session.scalar(query.with_for_update(read=True))


def _target_options(
    spec: platforms.PlatformSpec, item: TargetCreate, media: Media | None, where: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The command's options for one target of a publishable platform, and the problems
    with them, each named the way the client wrote it (``targets[1].youtube``,
    ``targets[1].media.frame_rate`` when the file does not fit the platform).

    Options are ``None`` when the block is wrong or missing: a block of another
    platform, or none where the platform requires one (its fields model has
    required fields). The registry's :meth:`~cachalot_common.platforms.PlatformSpec.check`
    then holds the options and the file's probed facts against the platform's
    limits (TikTok: at most 600 s, 23–60 frames per second, 360–4096 px a side).
    """
    for other in platforms.publishable():
        if other.name != spec.name and item.block(other.name) is not None:
            message = f"this is a {spec.label} account; put its settings in {where}.{spec.name}"
            return None, [_error(f"{where}.{other.name}", message)]
    block = item.block(spec.name) or spec.default_fields()
    if block is None:
        needed = ", ".join(spec.required_fields)
        message = f"required for a {spec.label} account ({needed})"
        return None, [_error(f"{where}.{spec.name}", message, "missing")]
    options = block.to_options()
    problems = [
        _error(
            f"{where}.{e.field}"
            if e.field.startswith("media")
            else f"{where}.{spec.name}.{e.field}",
            e.message,
            e.type,
        )
        for e in (
            spec.check(options, platforms.Content(kind="video", video=media))
            if media is not None
            else []
        )
    ]
    return options.model_dump(mode="json"), problems


def _with_targets(query: Any) -> Any:
    return query.options(selectinload(Post.targets))


def _cannot_retry(post: Post, lost: dict[UUID, Change | None]) -> Problem:
    """409 naming, per target, why it cannot be retried (lost account or not failed)."""
    errors = []
    for target in post.targets:
        where = f"targets[{target.position}]"
        loss = lost.get(target.id)
        if loss is not None:
            errors.append(_error(where, loss.reason or "", loss.code or ""))
        elif target.status == "cancelled" and (target.last_code or "").startswith("account_"):
            errors.append(_error(where, target.last_error or "", target.last_code or ""))
    if not errors:
        return Problem(
            409, "Nothing to retry: no target of this post has failed.", title="Not failed"
        )
    reasons = " ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(
        409,
        f"Cannot retry: the account is no longer yours to publish to. {reasons}",
        title="Account lost",
        errors=errors,
    )


def _not_found() -> Problem:
    return Problem(404, "No such post.")


def to_public(post: Post, *, media_deleted: bool = False) -> PostPublic:
    return PostPublic(
        id=post.id,
        media_id=post.media_id,
        media_deleted=media_deleted,
        scheduled_at=post.scheduled_at,
        created_at=post.created_at,
        targets=[
            TargetPublic(
                id=t.id,
                account_id=t.account_id,
                platform=t.platform,
                status=t.status,  # type: ignore[arg-type]
                attempts=t.attempt,
                next_attempt_at=t.due_at if t.status == "scheduled" else None,
                remote_id=t.remote_id,
                remote_url=t.remote_url,
                last_error=t.last_error,
                last_error_code=t.last_code,
                bytes_sent=t.bytes_sent,
                bytes_total=t.bytes_total,
                updated_at=t.updated_at,
                options=t.options,
            )
            for t in post.targets
        ],
    )
