"""The posts service layer: create, read, cancel, retry, always within one client.

Input the schema cannot check alone (the media and accounts belong to the
client, the platform block matches the account, the time is not past) is
checked here against the database, and every problem is reported at once,
each naming its field the way the client wrote it (``targets[1].youtube``).
A post of another client is simply not found (404), never "forbidden".

A post is a video (``media_id``), a photo post (``image_ids``, in order) or an
article (``article``: title, body in :mod:`cachalot_common.articles` HTML,
optional cover image). Every file it uses is a ``post_media`` row, and each
target's platform holds the content against its limits through the registry
(:meth:`~cachalot_common.platforms.PlatformSpec.check`), which refuses a kind
the platform cannot take (named ``targets[i].account_id``). The registry is
given by the composition root (tests give one where a platform takes more).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, cast
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from cachalot_common import platforms
from cachalot_common.articles import ArticleError, Node, parse
from cachalot_common.events import CreatorInfoFacts, TargetStatus
from cachalot_common.problems import Problem
from cachalot_common.telemetry import current_traceparent
from cachalot_queue.catch_up import read_until
from cachalot_queue.paging import cut_page, newest_first, soonest_first
from cachalot_queue.schemas import (
    ArticleCreate,
    ArticlePublic,
    MediaExport,
    PostCreate,
    PostPublic,
    PostsExport,
    PostUpdate,
    TargetCreate,
    TargetPublic,
)
from cachalot_queue.states import (
    CANCELLABLE,
    IN_FLIGHT,
    NEEDS_CHANNEL,
    UNCONFIRMED,
    Change,
    account_loss,
    confirmed_by_client,
)
from cachalot_queue.tables import Account, AuditEntry, Media, Post, PostMedia, Target
from cachalot_queue.transitions import account_views, announce, apply_change, text_start

MAX_SCHEDULE_AHEAD: Final = timedelta(days=366)


@dataclass(frozen=True, slots=True)
class Created:
    post: PostPublic
    replayed: bool


SCHEDULE_PAST: Final = "scheduled_in_the_past"
"""The ``type`` of a ``scheduled_at`` error: the time is past beyond the grace (web/words.js
words it by this code)."""
SCHEDULE_TOO_FAR: Final = "scheduled_too_far_ahead"
"""The ``type`` of a ``scheduled_at`` error: the time is more than a year ahead."""


def _error(
    field: str, message: str, kind: str = "value_error", where: str = "body"
) -> dict[str, Any]:
    return {"field": field, "in": where, "message": message, "type": kind}


def _refused(where: str, platform: str, error: platforms.FieldError) -> dict[str, Any]:
    """A registry refusal as an error entry: its code and numbers (cachalot_common.refusals)."""
    field = _content_field(where, platform, error.field)
    return {**_error(field, error.message, error.type), **error.params}


def _invalid(errors: list[dict[str, Any]]) -> Problem:
    names = ", ".join(e["field"] for e in errors)
    return Problem(422, f"Invalid input: {names}.", errors=errors)


#: Fields added with post kinds, left out of the hash at their defaults, so a video post's
#: Idempotency-Key sent before the upgrade still matches the same body after it.
_KIND_FIELDS: Final = ("kind", "image_ids", "article")


def request_hash(body: PostCreate) -> str:
    """sha256 (hex) of the body as JSON: an Idempotency-Key is for this body only."""
    plain = {n for n in _KIND_FIELDS if getattr(body, n) == PostCreate.model_fields[n].default}
    return hashlib.sha256(body.model_dump_json(exclude=plain).encode()).hexdigest()


@dataclass(slots=True)
class _Content:
    """What a post carries, read from the client's media rows; ``complete`` when every
    file was found and fits the kind (only then are the platforms' checks run)."""

    facts: platforms.Content
    files: list[tuple[str, UUID, str]] = field(default_factory=list)
    """(role, media id, the field that named it), in position order."""
    complete: bool = True


@dataclass(frozen=True, slots=True)
class Wording:
    """The words of the check's 422s that depend on who reads them: the client checks its
    own post, an operator a proposal for a client (its routes answer in the client's
    third person, and it uploads with ``POST /api/v1/operator/media``)."""

    video_missing: str
    images_missing: str
    no_such_media: str
    media_deleted: str
    not_an_account: str
    whose_channel: str


CLIENT_WORDS: Final = Wording(
    video_missing="its video (upload it with POST /api/v1/media)",
    images_missing="1–10 images (JPEG or PNG, uploaded with POST /api/v1/media)",
    no_such_media="no such media; upload it with POST /api/v1/media",
    media_deleted="no such media; it was just deleted",
    not_an_account="not one of your connected accounts",
    whose_channel="your channel",
)
OPERATOR_WORDS: Final = Wording(
    video_missing="its video (upload it to the client's library first)",
    images_missing="1–10 images (JPEG or PNG, uploaded to the client's library first)",
    no_such_media="not in this client's library; upload it to the client's library first",
    media_deleted="not in this client's library; it was just deleted",
    not_an_account="not one of this client's connected accounts",
    whose_channel="the client's channel",
)


async def _read_content(
    session: AsyncSession,
    client_id: UUID,
    body: PostCreate,
    words: Wording,
    *,
    files_to_come: bool = False,
) -> tuple[_Content, list[dict[str, Any]]]:
    """The post's content and every problem with it, named as the client wrote it
    (``media_id``, ``image_ids[3]``, ``article.body_html``, ``article.cover_media_id``).

    ``files_to_come``: a video's ``media_id`` or a photo post's ``image_ids`` left out is
    no problem (the files are not uploaded yet): the platforms' checks then run without
    them (each skips what reads a file's facts), the rest waits for the post itself."""
    errors: list[dict[str, Any]] = []
    kind = body.kind
    given = {
        "media_id": body.media_id is not None,
        # none chosen is said as missing for a photo post (fresh10k: pydantic's list rule
        # answered first, in its own words, even on posts that take no images)
        "image_ids": bool(body.image_ids) if kind == "photo" else body.image_ids is not None,
        "article": body.article is not None,
    }
    own = {"video": "media_id", "photo": "image_ids", "article": "article"}[kind]
    for name, present in given.items():
        if present and name != own:
            errors.append(_error(name, f"{kind} posts do not take {name}; leave it out"))
    if not given[own] and not (files_to_come and own != "article"):
        what = {
            "media_id": words.video_missing,
            "image_ids": words.images_missing,
            "article": "a title and a body",
        }[own]
        errors.append(_error(own, f"required for a {kind} post: {what}", "missing"))
    wanted: list[tuple[str, UUID, str]] = []  # (role, id, field)
    if kind == "video" and body.media_id is not None:
        wanted.append(("video", body.media_id, "media_id"))
    if kind == "photo" and body.image_ids is not None:
        wanted += [("image", m, f"image_ids[{i}]") for i, m in enumerate(body.image_ids)]
    nodes: list[Node] = []
    if kind == "article" and body.article is not None:
        try:
            nodes = parse(body.article.body_html)
        except ArticleError as error:
            errors.append(_error("article.body_html", str(error)))
        if body.article.cover_media_id is not None:
            wanted.append(("cover", body.article.cover_media_id, "article.cover_media_id"))
    ids = {m for _, m, _ in wanted}
    rows = (
        {
            m.id: m
            for m in (
                await session.scalars(
                    select(Media).where(Media.id.in_(ids), Media.client_id == client_id)
                )
            ).all()
        }
        if ids
        else {}
    )
    found: dict[str, list[Media]] = {"video": [], "image": [], "cover": []}
    first: dict[UUID, str] = {}
    complete = not errors
    for role, media_id, name in wanted:
        media = rows.get(media_id)
        problem = None
        if media is None:
            problem = words.no_such_media
        elif role == "video" and not media.content_type.startswith("video/"):
            problem = "is an image; a video post needs a video (MP4, MOV or WebM)"
        elif role != "video" and not media.content_type.startswith("image/"):
            problem = "is a video; this takes an image (JPEG or PNG)"
        elif role == "image" and media_id in first:
            problem = f"is already in this post at {first[media_id]}"
        if problem is not None:
            errors.append(_error(name, problem))
            complete = False
            continue
        assert media is not None
        first.setdefault(media_id, name)
        found[role].append(media)
    article = body.article
    content = platforms.Content(
        kind=kind,
        video=found["video"][0] if found["video"] else None,
        images=tuple(found["image"]),
        title=article.title if article is not None else None,
        nodes=tuple(nodes),
        cover=found["cover"][0] if found["cover"] else None,
    )
    return _Content(content, wanted, complete), errors


class PostService:
    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        reader: async_sessionmaker[AsyncSession] | None = None,
        schedule_grace_s: float,
        account_catch_up_s: float = 0.0,
        registry: Mapping[str, platforms.PlatformSpec] = platforms.REGISTRY,
    ) -> None:
        """``registry``: name → platform spec (:data:`cachalot_common.platforms.REGISTRY`);
        ``account_catch_up_s``: how long a target's account may take to appear, or to turn
        connected, in the queue's copy before the post is refused (:mod:`.catch_up`)."""
        self._factory = factory
        self._reader = reader or factory
        self._grace = timedelta(seconds=schedule_grace_s)
        self._catch_up_s = account_catch_up_s
        self._registry = registry

    @property
    def account_catch_up_s(self) -> float:
        return self._catch_up_s

    async def _accounts(
        self, session: AsyncSession, client_id: UUID, ids: Sequence[UUID]
    ) -> dict[UUID, Account]:
        """The client's accounts among ``ids`` (others absent), read in ``session``; when one
        is missing or not connected, read again in fresh sessions until each is known and
        connected or :attr:`account_catch_up_s` has passed (:func:`.catch_up.read_until`)."""
        query = select(Account).where(Account.id.in_(ids), Account.client_id == client_id)

        def settled(accounts: dict[UUID, Account]) -> bool:
            return all(i in accounts and accounts[i].status == "connected" for i in ids)

        accounts = {a.id: a for a in (await session.scalars(query)).all()}
        if settled(accounts) or self._catch_up_s <= 0:
            return accounts

        async def read() -> dict[UUID, Account]:
            async with self._reader() as db:  # a new snapshot each time
                return {a.id: a for a in (await db.scalars(query)).all()}

        return await read_until(read, settled, wait_s=self._catch_up_s)

    async def create(
        self,
        *,
        client_id: UUID,
        body: PostCreate,
        idempotency_key: str | None,
        now: datetime,
        within: Callable[[AsyncSession, PostPublic], Awaitable[None]] | None = None,
    ) -> Created:
        """Queue ``body`` (or give back the post an earlier request with the same key made).

        ``within(session, post)`` runs in the transaction that inserts the post, after it:
        what it writes commits with the post or not at all, and an exception it raises
        leaves no post (a proposal's approval is recorded so, :mod:`cachalot_queue.deliveries`).

        Raises ``Problem`` 422 with one ``errors`` entry per problem, each naming its
        field (``image_ids[2]``, ``article.body_html``, ``targets[1].tiktok.caption``,
        ``targets[0].account_id`` for an account whose platform cannot take the kind),
        and 422 naming ``Idempotency-Key`` when the key was used for another body.
        """
        digest = request_hash(body)
        if idempotency_key is not None:
            existing = await self._replay(client_id, idempotency_key, digest)
            if existing is not None:
                return Created(existing, replayed=True)
        # Checks read outside the write transaction, which then only inserts:
        # an account that changes meanwhile is handled by its event like any other.
        async with self._reader() as reading:
            post, named = await self._build(reading, client_id, body, now)
        try:
            async with self._factory() as session, session.begin():
                # a file may have been deleted since it was checked; held until commit
                files = [f.media_id for f in post.files]
                await hold_files(session, client_id, list(zip(named, files, strict=True)))
                post.idempotency_key = idempotency_key
                post.request_hash = digest if idempotency_key else None
                session.add(post)
                for target in post.targets:
                    announce(session, target, None, Change(status="scheduled"))
                public = to_public(post)
                if within is not None:
                    await within(session, public)
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = await self._replay(client_id, idempotency_key, digest)
            if existing is None:
                raise
            return Created(existing, replayed=True)
        return Created(public, replayed=False)

    async def check(
        self,
        *,
        client_id: UUID,
        body: PostCreate,
        now: datetime,
        words: Wording = CLIENT_WORDS,
        files_to_come: bool = False,
    ) -> None:
        """Check ``body`` by every rule of :meth:`create`, keeping nothing (a proposal is
        checked so before it is offered to the client; the dashboard's composer before it
        uploads, ``POST /api/v1/posts/check``). Raises the same 422 ``Problem``, worded by
        ``words`` (:data:`OPERATOR_WORDS` when an operator's route asks).

        ``files_to_come``: the video or the images may be left out, not uploaded yet
        (:func:`_read_content`); every other rule is checked, and what depends on the
        files' facts (a video's length, a photo post's image count) when the post is made.
        """
        async with self._reader() as reading:
            await self._build(
                reading, client_id, body, now, words=words, files_to_come=files_to_come
            )

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
        return to_public(post, media_deleted=post.id in gone)

    def _when_errors(self, scheduled_at: datetime, now: datetime) -> list[dict[str, Any]]:
        """What is wrong with a publish time (DESIGN: not past beyond the grace, a year
        ahead at most), named ``scheduled_at``."""
        if scheduled_at < now - self._grace:
            return [
                _error("scheduled_at", "is in the past; leave it out to publish now", SCHEDULE_PAST)
            ]
        if scheduled_at > now + MAX_SCHEDULE_AHEAD:
            return [_error("scheduled_at", "is more than a year ahead", SCHEDULE_TOO_FAR)]
        return []

    async def update(
        self,
        *,
        client_id: UUID,
        post_id: UUID,
        body: PostUpdate,
        now: datetime,
        if_match: str | None = None,
    ) -> PostPublic:
        """Reschedule and/or change the targets' settings of a post not yet dispatched.

        Each target changed that is not yet dispatched is announced on ``posts.status.v1``
        with ``previous == status`` (an edit, as a progress update is), so that the
        client's pages open elsewhere read the post again (the live feed).

        The new settings are checked as a new post with the same content would be
        (:meth:`_build`), so the rules are the same. Raises ``Problem`` 404 (no such
        post of this client), 422 naming each field (``scheduled_at``,
        ``targets[i].account_id`` for an account that is no target of the post,
        ``targets[i].<platform>.<field>``), and 409 when a target to change, or
        every target, was already handed to a publisher or is finished. A *failed*
        target's settings may be changed (then ``POST .../targets/{id}/retry`` queues
        it again with them); a new time needs a target not yet dispatched.

        ``if_match``: the ``If-Match`` header (RFC 9110 §13.1.1), read under the post's
        lock: unless it is ``*`` or names the post's :func:`post_etag`, nothing changes and
        ``Problem`` 412 carries the current ``ETag`` and the post as it is now (``post``).
        None (no header): the edit applies to the post as it is (last write wins).
        """
        options, built = await self.check_update(
            client_id=client_id, post_id=post_id, body=body, now=now
        )
        content = _content_change(body)
        async with self._factory() as session, session.begin():
            post = await self._locked(session, client_id, post_id)
            if if_match is not None:
                gone = await deleted_media(session, [post])
                _refuse_unless_matches(if_match, to_public(post, media_deleted=post.id in gone))
            if content:
                _refuse_content_change(post)  # again, under the lock: a target may have gone
                assert built is not None
                post.media_id = built.media_id
                post.article_title = built.article_title
                post.article_body = built.article_body
                for target in post.targets:  # each keeps the title its events are told by
                    target.article_title = built.article_title
                post.files = [
                    PostMedia(
                        post_id=post.id, position=f.position, media_id=f.media_id, role=f.role
                    )
                    for f in built.files
                ]
            open_ = [t for t in post.targets if t.status in CANCELLABLE]
            named = {item.account_id for item in body.targets or []}
            # a failed target's settings may change too, so that it can be queued again
            # with them ("edit and queue again", issue 12): its time stays the retry's
            mended = [t for t in post.targets if t.account_id in named and t.status == "failed"]
            late = [
                t
                for t in post.targets
                if t.account_id in named and t not in open_ and t not in mended
            ]
            # new content alone may go to failed targets: it is sent when they are retried
            content_only = bool(content) and any(t.status == "failed" for t in post.targets)
            if late or (
                not open_ and (body.scheduled_at is not None or not (mended or content_only))
            ):
                raise Problem(
                    409,
                    "Too late to change: "
                    + (
                        "the post was already handed to its publishers or is finished."
                        if not open_
                        else ", ".join(f"targets[{t.position}] ({t.platform})" for t in late)
                        + " already handed to a publisher or finished."
                    ),
                    title="Already dispatched",
                )
            edited: dict[UUID, Target] = {}
            if content:
                for target in open_:
                    target.updated_at = now
                    edited[target.id] = target
            if body.scheduled_at is not None:
                when = max(body.scheduled_at, now)
                post.scheduled_at = when
                for target in open_:
                    target.due_at = target.scheduled_at = when
                    target.platform_wait = False  # its time is the client's now
                    target.updated_at = now
                    edited[target.id] = target
            for target in [*open_, *mended]:
                if target.account_id in options:
                    target.options = options[target.account_id]
                    target.updated_at = now
                    if target in open_:
                        edited[target.id] = target
            # Pages open elsewhere (another tab, another device) learn of the edit from the
            # target's own status event, as of a progress update: previous == status. Not
            # for a failed target's new settings: "failed" is what tells the operator and
            # the client of a failure (the notifier); its page learns when it is retried.
            for target in edited.values():
                status = cast(TargetStatus, target.status)
                announce(session, target, status, Change(status=status))
            changed = [
                name
                for name, given in (
                    ("content", bool(content)),
                    ("targets", body.targets is not None),
                    ("scheduled_at", body.scheduled_at is not None),
                )
                if given
            ]
            if changed:  # the client's act on the post's trail (issue 13 item 2)
                session.add(
                    AuditEntry(
                        client_id=client_id,
                        post_id=post.id,
                        action="edited",
                        actor_role="client",
                        actor_id=client_id,
                        at=now,
                        detail={"changed": changed},
                    )
                )
            gone = await deleted_media(session, [post])
            return to_public(post, media_deleted=post.id in gone)

    async def check_update(
        self, *, client_id: UUID, post_id: UUID, body: PostUpdate, now: datetime
    ) -> tuple[dict[UUID, dict[str, Any]], Post | None]:
        """Check an edit by every rule of :meth:`update`, keeping nothing: the new options
        of each target named (by account id), and when the content changes the post as
        checked (the content to keep: ``media_id``, the article, ``files``). Raises
        ``Problem`` 404 (no such post of this client), 409 (new content while a target is
        being published or done) or 422 with every problem, each naming its field; whether
        a target is too late to change is :meth:`update`'s to say (it is read again
        there, locked)."""
        errors = self._when_errors(body.scheduled_at, now) if body.scheduled_at else []
        content = _content_change(body)
        async with self._reader() as reading:
            post = await reading.scalar(
                _with_targets(select(Post)).where(Post.id == post_id, Post.client_id == client_id)
            )
            if post is None:
                raise _not_found()
            if body.targets is None and not content:
                if errors:
                    raise _invalid(errors)
                return {}, None
            if content:
                _refuse_content_change(post)
            mine = {t.account_id for t in post.targets}
            for index, item in enumerate(body.targets or []):
                if item.account_id not in mine:
                    message = "this account is not a target of this post"
                    errors.append(_error(f"targets[{index}].account_id", message))
            # new content is checked against each other target whose account can take a
            # post now; one waiting for a reconnect is checked when it is back
            ready = set(
                (
                    await reading.scalars(
                        select(Account.id).where(
                            Account.id.in_(mine),
                            Account.client_id == client_id,
                            Account.status == "connected",
                        )
                    )
                ).all()
            )
            edit = _as_create(post, body, ready, self._registry)
            try:
                built, _ = await self._build(reading, client_id, edit, now)
            except Problem as refused:
                # the rules' words too, in the same answer (issue 12: errors in one round)
                who = {t.account_id: self._whose(t) for t in post.targets}
                said = _named_for_edit(refused, body, edit, content, who)
                named = {e["field"] for e in errors}
                theirs = [e for e in _their_errors(said) if e["field"] not in named]
                raise _invalid(errors + theirs) from None
            if errors:
                raise _invalid(errors)
            names = {item.account_id for item in body.targets or []}
            options = {
                t.account_id: t.options
                for t in built.targets
                if t.options and t.account_id in names
            }
            return options, built if content else None

    async def _build(
        self,
        session: AsyncSession,
        client_id: UUID,
        body: PostCreate,
        now: datetime,
        *,
        words: Wording = CLIENT_WORDS,
        files_to_come: bool = False,
    ) -> tuple[Post, list[str]]:
        """The post to insert, and the field that named each of its files (in order)
        (``files_to_come``: see :meth:`check`)."""
        content, errors = await _read_content(
            session, client_id, body, words, files_to_come=files_to_come
        )
        scheduled_at = body.scheduled_at or now
        errors += self._when_errors(scheduled_at, now)
        scheduled_at = max(scheduled_at, now)
        accounts = await self._accounts(session, client_id, [t.account_id for t in body.targets])
        post_id = uuid4()
        post = Post(
            id=post_id,
            client_id=client_id,
            kind=body.kind,
            media_id=body.media_id if body.kind == "video" else None,
            article_title=body.article.title if body.article is not None else None,
            article_body=body.article.body_html if body.article is not None else None,
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
                errors.append(_error(f"{where}.account_id", words.not_an_account))
                continue
            spec = self._registry.get(account.platform)
            name = spec.label if spec is not None else account.platform
            if account.status != "connected":
                message = (
                    f"this {name} account must be reconnected first"
                    if account.status == "reauth_required"
                    else f"this {name} account has no channel our bot can post to: add our bot "
                    f"as an administrator of {words.whose_channel} with the right to post "
                    "messages, then link a channel to the account in the dashboard"
                    if account.status == NEEDS_CHANNEL
                    else f"this {name} account is disconnected"
                )
                errors.append(_error(f"{where}.account_id", message))
                continue
            if spec is None or not spec.publishable:
                errors.append(
                    _error(f"{where}.account_id", f"publishing to {name} is not supported yet")
                )
                continue
            chosen, problems = _target_options(self._registry, spec, item, content, where)
            errors += problems
            if chosen is None:
                continue
            options = chosen.model_dump(mode="json")
            errors += _community_errors(account, options, where)
            errors += _account_errors(spec, account, chosen, content, where)
            targets.append(
                Target(
                    id=uuid4(),
                    post_id=post_id,
                    position=index,
                    client_id=client_id,
                    account_id=account.id,
                    platform=account.platform,
                    account_name=account.display_name,
                    article_title=post.article_title,
                    options=options,
                    status="scheduled",
                    attempt=0,
                    budget_start=0,
                    reconciles=0,
                    due_at=scheduled_at,
                    scheduled_at=scheduled_at,
                    created_at=now,
                    updated_at=now,
                    traceparent=current_traceparent(),
                )
            )
        if errors:
            raise _invalid(errors)
        post.targets = targets
        post.files = [
            PostMedia(post_id=post_id, position=i, media_id=m, role=role)
            for i, (role, m, _) in enumerate(content.files)
        ]
        return post, [n for _, _, n in content.files]

    async def get(self, *, client_id: UUID, post_id: UUID) -> PostPublic:
        async with self._reader() as session:
            post = await session.scalar(
                _with_targets(select(Post)).where(Post.id == post_id, Post.client_id == client_id)
            )
            gone = await deleted_media(session, [post] if post else [])
        if post is None:
            raise _not_found()
        return to_public(post, media_deleted=post.id in gone)

    async def page(
        self, *, client_id: UUID, limit: int, cursor: str | None, order: str = "created"
    ) -> tuple[list[PostPublic], str | None]:
        """A page of the client's posts and the next page's cursor: ``order`` "created"
        is newest first, "due" by publish time (``scheduled_at``), soonest first. A
        cursor is good for the order that gave it; a bad one is a 422 naming ``cursor``."""
        mine = _with_targets(select(Post)).where(Post.client_id == client_id)
        if order == "due":
            query = soonest_first(
                mine, key=Post.scheduled_at, id_=Post.id, cursor=cursor, limit=limit
            )
        else:
            query = newest_first(
                mine, created_at=Post.created_at, id_=Post.id, cursor=cursor, limit=limit
            )
        async with self._reader() as session:
            posts, next_cursor = cut_page(
                list((await session.scalars(query)).all()),
                limit,
                key=(lambda p: p.scheduled_at) if order == "due" else None,
            )
            gone = await deleted_media(session, posts)
        return [to_public(p, media_deleted=p.id in gone) for p in posts], next_cursor

    async def export(self, *, client_id: UUID) -> PostsExport:
        """Every post (each with its kind, files and article) and every file of the client,
        for its data export."""
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
            posts=[
                to_public(p, media_deleted=any(f.media_id not in kept for f in p.files))
                for p in posts
            ],
            media=[MediaExport.model_validate(m, from_attributes=True) for m in media],
        )

    async def cancel(
        self, *, client_id: UUID, post_id: UUID, now: datetime, target_id: UUID | None = None
    ) -> PostPublic:
        """Cancel every target not yet handed to a publisher, or only ``target_id``'s.

        Raises ``Problem`` 404 (no such post of this client, or no such target of
        it) and 409 when what is asked is already being published; cancelling
        what is already finished changes nothing (the post is returned).
        """
        async with self._factory() as session, session.begin():
            post = await self._locked(session, client_id, post_id)
            chosen = _chosen(post, target_id)
            pending = [t for t in chosen if t.status in CANCELLABLE]
            if not pending and any(t.status in IN_FLIGHT for t in chosen):
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
            return to_public(post, media_deleted=post.id in gone)

    async def retry(
        self, *, client_id: UUID, post_id: UUID, now: datetime, target_id: UUID | None = None
    ) -> PostPublic:
        """Queue failed targets again (or only ``target_id``, by the same rules), with a
        fresh attempt budget.

        Only targets whose account the client still holds are retried (issue 8
        item 2): a target whose account was disconnected, erased or connected
        by someone else since is not. Raises ``Problem`` 404 (no such post of
        this client), 409 with one ``errors`` entry per target that cannot be
        retried, naming why, when nothing can be, and 409 when the post's video
        was deleted (``DELETE /api/v1/media/{id}`` allows that once the post is
        finished with it). With ``target_id``, a 404 when the post has no such target.
        """
        async with self._factory() as session, session.begin():
            post = await self._locked(session, client_id, post_id)
            chosen = _chosen(post, target_id)
            failed = [t for t in chosen if t.status == "failed"]
            if not failed:
                raise _cannot_retry(chosen, {})
            await self._schedule_again(
                session, post, failed, client_id, now=now, reason="Retry requested.", asked=chosen
            )
            return to_public(post)

    async def mark_published(
        self, *, client_id: UUID, post_id: UUID, target_id: UUID, url: str | None, now: datetime
    ) -> PostPublic:
        """The client saw an ``unconfirmed`` target's post on the platform: it is published
        (at ``url`` when given). Issue 10: the outcome nobody could look up.

        Raises ``Problem`` 404 (no such post of this client, or no such target of it) and 409
        when the target is not ``unconfirmed`` — one already published (by this act or a late
        result) too, as ``publish_again`` answers: a 200 that changed nothing would let a client
        believe its second, different link was kept (issue 10, fresh-user try).
        """
        async with self._factory() as session, session.begin():
            post = await self._locked(session, client_id, post_id)
            (target,) = _chosen(post, target_id)
            if target.status != UNCONFIRMED:
                raise _not_unconfirmed(target)
            apply_change(session, target, confirmed_by_client(url), now=now)
            return to_public(post)

    async def publish_again(
        self, *, client_id: UUID, post_id: UUID, target_id: UUID, now: datetime
    ) -> PostPublic:
        """The client found no post for an ``unconfirmed`` target: queue it again, a new
        attempt with a fresh budget (the client's explicit act; the queue never does this by
        itself, as it could post twice).

        Raises ``Problem`` 404 (no such post or target), 409 when the target is not
        ``unconfirmed``, its account is no longer the client's, or the media was deleted.
        """
        async with self._factory() as session, session.begin():
            post = await self._locked(session, client_id, post_id)
            (target,) = _chosen(post, target_id)
            if target.status != UNCONFIRMED:
                raise _not_unconfirmed(target)
            await self._schedule_again(
                session, post, [target], client_id, now=now, reason="Publish again requested."
            )
            return to_public(post)

    async def _schedule_again(
        self,
        session: AsyncSession,
        post: Post,
        candidates: list[Target],
        client_id: UUID,
        *,
        now: datetime,
        reason: str,
        asked: list[Target] | None = None,
    ) -> None:
        """Queue ``candidates`` again with a fresh budget, if their account is still the
        client's and the post's files are kept (409 naming why otherwise, per target of
        ``asked``, default ``candidates``)."""
        accounts = await account_views(session, {t.account_id for t in candidates})
        lost = {t.id: account_loss(t.client_id, accounts.get(t.account_id)) for t in candidates}
        retryable = [t for t in candidates if lost[t.id] is None]
        if not retryable:
            raise _cannot_retry(asked if asked is not None else candidates, lost)
        # held (FOR SHARE) until commit, so a delete of a file waits for this retry
        kept = await _files_kept(session, client_id, [f.media_id for f in post.files])
        gone = [f.media_id for f in post.files if f.media_id not in kept]
        if gone:
            video = post.kind == "video"
            what = "video was" if video else "images or cover were"
            redo = "the video" if video else "them"
            raise Problem(
                409,
                f"This post's {what} deleted, so it cannot be published again; "
                f"upload {redo} again and queue a new post.",
                title="Video deleted" if video else "Media deleted",
                type_="https://cachalot.dev/problems/media-deleted",
                media_id=str(gone[0]),
            )
        for target in retryable:
            target.budget_start = target.attempt
            change = Change(status="scheduled", reason=reason, due_at=now)
            apply_change(session, target, change, now=now)

    def _whose(self, target: Target) -> str:
        """ "TikTok (Ann's films)": a target's platform and account, as the client knows them."""
        spec = self._registry.get(target.platform)
        name = spec.label if spec is not None else target.platform
        return f"{name} ({target.account_name})" if target.account_name else name

    async def _locked(self, session: AsyncSession, client_id: UUID, post_id: UUID) -> Post:
        post: Post | None = await session.scalar(
            _with_targets(select(Post)).where(Post.id == post_id, Post.client_id == client_id)
        )
        if post is None:
            raise _not_found()
        locked = select(Target).where(Target.post_id == post_id).with_for_update()
        await session.execute(locked.execution_options(populate_existing=True))
        return post


def post_etag(post: PostPublic) -> str:
    """A strong entity tag (RFC 9110 §8.8.3) of ``post`` as ``GET /posts/{id}`` shows it:
    a quoted 32-hex-digit sha256 of its JSON, so that any change to the post (a time,
    a target's settings or status, its content) gives another tag."""
    digest = hashlib.sha256(post.model_dump_json().encode()).hexdigest()[:32]
    return f'"{digest}"'


def if_match_holds(header: str, etag: str) -> bool:
    """RFC 9110 §13.1.1: ``*``, or a comma-separated list naming ``etag`` by the strong
    comparison (a weak tag, ``W/"…"``, never matches)."""
    tags = [tag.strip() for tag in header.split(",")]
    return "*" in tags or etag in tags


def _refuse_unless_matches(header: str, current: PostPublic) -> None:
    """``Problem`` 412 with the current ``ETag`` and ``post`` unless ``header`` matches it."""
    etag = post_etag(current)
    if not if_match_holds(header, etag):
        raise Problem(
            412,
            "The post changed since you read it: read it again (its ETag is in this answer's "
            "ETag header, the post as it is now in `post`) and send your change again.",
            type_="https://cachalot.dev/problems/post-changed",
            headers={"ETag": etag},
            post=current.model_dump(mode="json"),
        )


async def deleted_media(session: AsyncSession, posts: Sequence[Post]) -> set[UUID]:
    """The ids of ``posts`` a file of which (video, image, cover) was deleted (its row is gone).

    ``posts`` must have their ``files`` loaded (:func:`_with_targets`).
    """
    wanted = {f.media_id for p in posts for f in p.files}
    if not wanted:
        return set()
    kept = set((await session.scalars(select(Media.id).where(Media.id.in_(wanted)))).all())
    return {p.id for p in posts if any(f.media_id not in kept for f in p.files)}


async def hold_files(
    session: AsyncSession,
    client_id: UUID,
    named: Sequence[tuple[str, UUID]],
    words: Wording = CLIENT_WORDS,
) -> None:
    """Share-lock the client's files ``named`` ((field, media id)) until the transaction
    ends, so a delete waits for it (:meth:`MediaLibrary.delete`, ``delete_unused``: FOR
    UPDATE) or went first. Raises the 422 ``Problem`` naming each field whose file was
    deleted since it was checked."""
    kept = await _files_kept(session, client_id, [m for _, m in named])
    gone = [field for field, m in named if m not in kept]
    if gone:
        raise _invalid([_error(field, words.media_deleted) for field in gone])


async def _files_kept(session: AsyncSession, client_id: UUID, media_ids: list[UUID]) -> set[UUID]:
    """Those of ``media_ids`` the client still keeps, share-locked to the transaction's end."""
    if not media_ids:
        return set()
    query = select(Media.id).where(Media.id.in_(set(media_ids)), Media.client_id == client_id)
    return set((await session.scalars(query.with_for_update(read=True))).all())


def _community_errors(
    account: Account, options: dict[str, Any], where: str
) -> list[dict[str, Any]]:
    """A VK ``owner_id`` of a community the account's person does not administer, or of
    someone else's wall, named (``targets[i].vk.owner_id``).

    ``account.communities``: what VK's ``groups.get`` filter=admin said when the account was
    last connected (auth, on ``accounts.v1``); ``None`` (not known: connected before auth read
    it, or without the ``groups`` right) checks nothing, and publisher-vk's refusal (VK errors
    214 / 15) still says it when the post goes out. Own wall (no ``owner_id``) is always fine.
    A positive ``owner_id`` is a person's wall (dev.vk.com ``wall.post``): only the
    account's own id (``account.platform_user_id``) is taken; while that id is not known
    (an older auth), every positive id is refused, since leaving ``owner_id`` out posts to
    the same wall.
    """
    owner = options.get("owner_id")  # VK's: a community is a negative id (platforms.vk)
    if isinstance(owner, int) and owner > 0:
        if account.platform_user_id is not None and str(owner) == account.platform_user_id:
            return []
        return [
            _error(
                f"{where}.{account.platform}.owner_id",
                f"{owner} is another person's wall: this "
                f"{platforms.label_of(account.platform)} account posts only to its own wall "
                "(leave owner_id out) or to a community it runs (-<community id>).",
            )
        ]
    if not isinstance(owner, int) or owner >= 0 or account.communities is None:
        return []
    if -owner in account.communities:
        return []
    return [
        _error(
            f"{where}.{account.platform}.owner_id",
            f"this {platforms.label_of(account.platform)} account does not administer community "
            f"{-owner} (as the platform said when it was "
            "connected); choose a community it runs, or leave owner_id out for its own wall. "
            "Made an administrator since? Reconnect the account so we learn it.",
        )
    ]


def _account_errors(
    spec: platforms.PlatformSpec,
    account: Account,
    options: BaseModel,
    content: _Content,
    where: str,
) -> list[dict[str, Any]]:
    """The target's ``options`` (:func:`_target_options`') against what its account allows
    now, as auth last told (``accounts.v1``: TikTok's ``creator_info``), each named where
    the client wrote it (``targets[i].tiktok.privacy_level``); nothing while the facts are
    not known. The publisher reads them again before it posts: the final word."""
    facts = platforms.AccountFacts(
        creator_info=CreatorInfoFacts.model_validate(account.creator_info)
        if account.creator_info is not None
        else None
    )
    found = spec.check_account(options, content.facts, facts)
    return [_refused(where, spec.name, e) for e in found]


def _target_options(
    registry: Mapping[str, platforms.PlatformSpec],
    spec: platforms.PlatformSpec,
    item: TargetCreate,
    content: _Content,
    where: str,
) -> tuple[BaseModel | None, list[dict[str, Any]]]:
    """The command's options for one target of a publishable platform (the one place its
    block becomes options), and the problems with them, each named the way the client
    wrote it (:func:`_content_field`).

    Options are ``None`` when the block is wrong or missing: a block of another
    platform, or none where the platform requires one (its fields model has
    required fields, each then named: ``targets[i].tiktok.privacy_level``). A platform
    that cannot take the post's kind is said first (filling in its block would not help).
    The registry's :meth:`~cachalot_common.platforms.PlatformSpec.check` then holds the
    options against the content (TikTok's 600 s, a platform's image count, caption lengths after
    parsing...), once the content itself is complete and right.
    """
    kind = content.facts.kind
    if kind not in spec.kinds:  # said first: filling in the block would not help
        # the registry words the refusal; it reads no option for it
        refused = spec.check(_NoOptions(), platforms.Content(kind))
        return None, [_refused(where, spec.name, e) for e in refused]
    for other in registry.values():
        if other.publishable and other.name != spec.name and item.block(other.name) is not None:
            message = f"the account is on {spec.label}; put its settings in {where}.{spec.name}"
            return None, [_error(f"{where}.{other.name}", message)]
    block = item.block(spec.name) or spec.default_fields()
    if block is None:  # each field the client must choose is named (TikTok's privacy_level)
        message = f"required for {spec.label} accounts; there is no default"
        return None, [
            _error(f"{where}.{spec.name}.{name}", message, "missing")
            for name in spec.required_fields
        ]
    options = block.to_options()
    # with content missing or wrong (already reported) the checks would misname images
    found = spec.check(options, content.facts) if content.complete else []
    problems = [_refused(where, spec.name, e) for e in found]
    return options, problems


class _NoOptions(BaseModel):
    """Options for asking the registry whether a platform takes a kind (it reads none)."""


def _content_field(where: str, platform: str, name: str) -> str:
    """Where the client wrote what a registry check names (:class:`platforms.FieldError`).

    ``kind`` → ``targets[i].account_id`` (that account cannot take this kind of
    post); ``media`` → ``media_id``; a fact of the video that does not fit this
    target's platform, ``media.<fact>`` → ``targets[i].media.<fact>`` (the same
    file may fit another target); ``images`` (the image count, which is the
    platform's) → ``targets[i].image_ids``; ``images[j]`` → ``image_ids[j]`` and
    its facts ``images[j].<fact>`` → ``targets[i].image_ids[j].<fact>``;
    ``article.cover`` (and its facts) → ``article.cover_media_id``
    (``targets[i].article.cover_media_id.<fact>``);
    other ``article.*`` as they are; anything else is an option of the target's
    block, ``targets[i].<platform>.<name>``.
    """
    if name == "kind":
        return f"{where}.account_id"
    if name == "media":
        return "media_id"
    if name.startswith("media."):
        return f"{where}.{name}"
    if name == "images":
        return f"{where}.image_ids"
    if name.startswith("images["):
        field = "image_ids" + name[len("images") :]
        return f"{where}.{field}" if field.count(".") else field
    if name == "article.cover":
        return "article.cover_media_id"
    if name.startswith("article.cover."):
        return f"{where}.article.cover_media_id" + name[len("article.cover") :]
    if name == "article" or name.startswith("article."):
        return name
    return f"{where}.{platform}.{name}"


def _with_targets(query: Any) -> Any:
    return query.options(selectinload(Post.targets), selectinload(Post.files))


#: The fields of ``PATCH /api/v1/posts/{id}`` that change a post's content.
_CONTENT_FIELDS: Final = ("media_id", "image_ids", "article")


def _content_change(body: PostUpdate) -> list[str]:
    """The content fields ``body`` gives (``media_id``, ``image_ids``, ``article``)."""
    return [n for n in _CONTENT_FIELDS if getattr(body, n) is not None]


def _refuse_content_change(post: Post) -> None:
    """409 when a target of ``post`` is being published or done: the content is one for
    every target, and what a platform took or is taking cannot change under it."""
    busy = [t for t in post.targets if t.status not in {*CANCELLABLE, "failed", "cancelled"}]
    if busy:
        raise Problem(
            409,
            "Too late to change the content: "
            + ", ".join(f"targets[{t.position}] ({t.platform})" for t in busy)
            + " already handed to a publisher or finished; queue a new post instead.",
            title="Already dispatched",
        )


def _block_of(registry: Mapping[str, platforms.PlatformSpec], target: Target) -> Any:
    """``target``'s block as the client wrote it: its stored options (the block's
    :meth:`~cachalot_common.platforms.PlatformFields.to_options`) without what the
    options add (the ``platform`` tag)."""
    spec = registry.get(target.platform)
    if spec is None or spec.fields is None or target.options is None:
        return None
    return {k: v for k, v in target.options.items() if k in spec.fields.model_fields}


def _as_create(
    post: Post,
    body: PostUpdate,
    ready: set[UUID] | None = None,
    registry: Mapping[str, platforms.PlatformSpec] | None = None,
) -> PostCreate:
    """A new post with the content ``body`` gives (else ``post``'s, as it is now: a deleted
    file is said) and ``body``'s targets: what :meth:`_build` checks an edit against.

    When the content changes, every other target of the post not cancelled whose account
    is in ``ready`` follows ``body``'s, with its settings as stored, so that the new
    content is checked against each platform it will go to."""
    cover = next((f.media_id for f in post.files if f.role == "cover"), None)
    targets = list(body.targets or [])
    if _content_change(body):
        named = {t.account_id for t in targets}
        targets += [
            TargetCreate.model_validate(
                {"account_id": t.account_id, t.platform: _block_of(registry, t)}
            )
            for t in post.targets
            if t.account_id not in named
            and t.status != "cancelled"
            and t.account_id in (ready or set())
            and registry is not None
        ]
    given = body.model_fields_set & set(_CONTENT_FIELDS)
    fields: dict[str, Any] = dict(
        kind=post.kind,
        media_id=body.media_id
        if "media_id" in given
        else post.media_id
        if post.kind == "video"
        else None,
        image_ids=body.image_ids
        if "image_ids" in given
        else [f.media_id for f in post.files if f.role == "image"] or None,
        article=body.article
        if "article" in given
        else ArticleCreate(
            title=post.article_title, body_html=post.article_body or "", cover_media_id=cover
        )
        if post.kind == "article" and post.article_title is not None
        else None,
        targets=targets,
    )
    # every other target may wait for a reconnect: the content is then checked alone
    return PostCreate(**fields) if targets else PostCreate.model_construct(**fields)


def _named_for_edit(
    problem: Problem, body: PostUpdate, edit: PostCreate, content: list[str], who: dict[UUID, str]
) -> Problem:
    """``problem`` (a 422 of :meth:`PostService._build` for ``edit``) with each field named
    as in ``body``: a target ``body`` does not name (checked only because the content
    changes) is said at the content field, its words led by ``who[account_id]`` (its
    platform and account, as the client knows them)."""
    named = len(body.targets or [])
    if problem.status != 422 or not content or problem.errors is None:
        return problem
    renamed = []
    for error in problem.errors:
        index = _target_index(str(error.get("field", "")))
        if index is not None and index >= named:
            whose = who.get(edit.targets[index].account_id, "another target")
            error = {**error, "field": content[0], "message": f"{whose}: {error['message']}"}
        renamed.append(error)
    return _invalid(renamed)


def _target_index(field: str) -> int | None:
    """``i`` of a field named ``targets[i]…``, else None."""
    if not field.startswith("targets["):
        return None
    digits = field[len("targets[") :].split("]", 1)[0]
    return int(digits) if digits.isdigit() else None


def _chosen(post: Post, target_id: UUID | None) -> list[Target]:
    """Every target of ``post``, or the one ``target_id`` names (404 if it has none)."""
    if target_id is None:
        return list(post.targets)
    chosen = [t for t in post.targets if t.id == target_id]
    if not chosen:
        raise Problem(404, "No such target of this post.")
    return chosen


def _cannot_retry(targets: Sequence[Target], lost: dict[UUID, Change | None]) -> Problem:
    """409 naming, per target, why it cannot be retried (lost account or not failed)."""
    errors = []
    for target in targets:
        where = f"targets[{target.position}]"
        loss = lost.get(target.id)
        if loss is not None:
            errors.append(_error(where, loss.reason or "", loss.code or ""))
        elif target.status == "cancelled" and (target.last_code or "").startswith("account_"):
            errors.append(_error(where, target.last_error or "", target.last_code or ""))
    if not errors:
        return Problem(
            409,
            "Nothing to retry: no target of this post has failed."
            if len(targets) != 1
            else "Nothing to retry: this target has not failed.",
            title="Not failed",
        )
    reasons = " ".join(f"{e['field']}: {e['message']}" for e in errors)
    return Problem(
        409,
        f"Cannot retry: the account is no longer yours to publish to. {reasons}",
        title="Account lost",
        errors=errors,
    )


def _not_unconfirmed(target: Target) -> Problem:
    return Problem(
        409,
        f"This target is {target.status}, not unconfirmed: only a post whose outcome could not "
        "be confirmed is marked as published or published again this way.",
        title="Not unconfirmed",
    )


def _their_errors(refused: Problem) -> list[dict[str, Any]]:
    """A 422's ``errors`` (raised again when it is another problem)."""
    if refused.status != 422 or refused.errors is None:
        raise refused
    return refused.errors


def _not_found() -> Problem:
    return Problem(404, "No such post.")


def to_public(post: Post, *, media_deleted: bool = False) -> PostPublic:
    """The API's view of ``post`` (its ``targets`` and ``files`` loaded)."""
    cover = next((f.media_id for f in post.files if f.role == "cover"), None)
    return PostPublic(
        id=post.id,
        kind=post.kind,  # type: ignore[arg-type]
        media_id=post.media_id,
        image_ids=[f.media_id for f in post.files if f.role == "image"],
        article=ArticlePublic(
            title=post.article_title, body_html=post.article_body or "", cover_media_id=cover
        )
        if post.kind == "article" and post.article_title is not None
        else None,
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
                text_start=text_start(t),
            )
            for t in post.targets
        ],
    )
