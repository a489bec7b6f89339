"""Deliveries and proposals: the operator hands content over, the client decides (issue 13 item 2).

An operator uploads a video, images or an article's cover into a **client's** media
library (``POST /api/v1/operator/media?client_id=``: the client's own ``media`` rows,
against its quota) and delivers it with one or more **proposals**
(``POST /api/v1/operator/deliveries``): targets among the client's accounts with
per-target texts in the platform blocks ``POST /api/v1/posts`` takes, and a suggested
time. Each proposal is checked by the rules of a post (:meth:`PostService.check`), so
what the client approves can be queued as it is.

The client lists them (``GET /api/v1/posts/proposals``), edits one (``PATCH``), approves it
(``POST .../approve``: the post is made by :meth:`PostService.create`, the one path of
``POST /api/v1/posts``, with an Idempotency-Key of the proposal, so a repeated
approval gives the same post) or asks for changes with a comment
(``POST .../request-changes``). Both acts are the client's (its session, recorded with
its id and the time) and tell the operator on Telegram through the notifier
(``notify.v1`` :class:`~cachalot_common.events.ProposalAnswered`, via the outbox).
Every act on a proposal (made, edited, approved, sent back, superseded) also writes
``proposals.v1`` (:class:`~cachalot_common.events.ProposalChanged`, in the act's
transaction), which the live feeds push to the client's dashboard and the operators'
page (:mod:`cachalot_queue.live`).

An operator never queues, approves or publishes: its routes here write deliveries
and proposals only, and every route that makes or changes a post takes a client's
session (:data:`~cachalot_common.sessions.CurrentClient`: 403 for an operator's).
Both sides read a post's audit trail (:mod:`cachalot_queue.audit`).

**Superseded proposals** (the rule a person expects: one answer per request). When the
client asks for changes on a proposal and the operator answers with a new one
(``POST .../deliveries/{id}/proposals``), every proposal of that delivery that stands
at ``changes_requested`` becomes ``superseded``: it can no longer be approved, edited
or sent back (409 naming the proposal that replaced it, ``superseded_by``), so the
content is not posted once per version. Proposals the operator made side by side on
purpose (several in one delivery, or added while none was sent back) stay open, and
the client may approve more than one of them. A delivery holds at most
:data:`MAX_PROPOSALS` proposals in all (422 naming ``proposals``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, cast
from uuid import UUID, uuid4

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, Field, field_validator
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from cachalot_common.events import (
    PostKind,
    ProposalAnswered,
    ProposalChange,
    ProposalChanged,
    ProposalStatus,
)
from cachalot_common.problems import Problem, problem_responses
from cachalot_common.sessions import (
    CurrentClient,
    CurrentOperator,
)
from cachalot_common.text import has_visible
from cachalot_common.topics import NOTIFY, PROPOSALS
from cachalot_common.untrusted import StrictJsonRoute
from cachalot_queue.catch_up import read_until
from cachalot_queue.media_library import content_media
from cachalot_queue.outbox import enqueue
from cachalot_queue.posts import OPERATOR_WORDS, PostService, hold_files
from cachalot_queue.schemas import (
    MAX_IMAGES,
    MAX_TARGETS,
    ArticleCreate,
    ArticlePublic,
    MediaPublic,
    PostCreate,
    PostPublic,
    PostsExport,
    TargetCreate,
    _Input,
)
from cachalot_queue.tables import Account, AuditEntry, Delivery, Post, Proposal, Target

MAX_PROPOSALS = 10
IDEMPOTENCY_PREFIX = "cachalot-proposal-"
"""The Idempotency-Key an approval creates its post with (then the proposal's id)."""
OPEN = ("proposed", "changes_requested")
APPROVAL_TRIES = 3
"""Approvals tried while edits keep landing between the read and the post's insert."""


class _EditedMeanwhile(Exception):
    """The proposal changed after an approval read it: its post must not be queued."""


class ProposalIn(_Input):
    """One way to post a delivery: targets of the client's accounts, each with its
    platform's block (as ``POST /api/v1/posts``), and a suggested time."""

    targets: list[TargetCreate] = Field(min_length=1, max_length=MAX_TARGETS)
    scheduled_at: AwareDatetime | None = Field(
        default=None, description="The suggested publish time; none: when approved."
    )


class DeliveryCreate(_Input):
    """Content put into the client's library (files uploaded with
    ``POST /api/v1/operator/media?client_id=``) and how the operator proposes to post it."""

    client_id: UUID
    kind: PostKind = Field(default="video", description="video, photo or article.")
    media_id: UUID | None = Field(default=None, description="A video delivery's video.")
    image_ids: list[UUID] | None = Field(default=None, min_length=1, max_length=MAX_IMAGES)
    article: ArticleCreate | None = None
    note: str | None = Field(default=None, max_length=2000, description="For the client.")
    proposals: list[ProposalIn] = Field(min_length=1, max_length=MAX_PROPOSALS)


class ProposalUpdate(_Input):
    """The client's edit of a proposal still open: new targets (all of them, each with its
    block) and/or a new time; checked by the rules of ``POST /api/v1/posts``."""

    targets: list[TargetCreate] | None = Field(default=None, min_length=1, max_length=MAX_TARGETS)
    scheduled_at: AwareDatetime | None = None


class ChangesRequest(_Input):
    comment: str = Field(
        min_length=1, max_length=2000, description="What to change: at least one visible character."
    )

    @field_validator("comment")
    @classmethod
    def _visible(cls, comment: str) -> str:
        """422 naming ``comment`` when nothing of it can be seen (spaces, zero-width
        characters: :func:`cachalot_common.text.has_visible`): the operator would get an
        empty message."""
        if not has_visible(comment):
            raise ValueError("has no visible character: say what to change")
        return comment


class AuditPublic(BaseModel):
    """One step: ``delivered``, ``proposed``, ``superseded`` (operator: a new proposal
    answered a request for changes), ``edited``, ``approved``, ``changes_requested``
    (client), ``queued`` (a post the client made itself), ``leased`` (an attempt's token
    lease granted by auth, at the time the publisher had it), ``published``, ``failed``,
    ``cancelled``, ``unconfirmed`` (queue; ``detail`` has ``code`` and ``reason``)."""

    action: str
    actor_role: Literal["operator", "client", "queue"]
    actor_id: UUID | None = None
    actor_name: str | None = Field(
        default=None,
        description="An operator's Telegram name as it was when they acted (first and last "
        "name, else @username); None for others, or acts recorded before names were.",
    )
    at: datetime
    delivery_id: UUID | None = None
    proposal_id: UUID | None = None
    post_id: UUID | None = None
    target_id: UUID | None = None
    detail: dict[str, Any] | None = None


class PostTargetState(BaseModel):
    """Where an approved proposal's post stands on one platform (a target's status)."""

    platform: str
    status: str = Field(description="scheduled, dispatched, publishing, published, failed, …")


class ProposalPublic(BaseModel):
    id: UUID
    delivery_id: UUID
    status: ProposalStatus
    targets: list[dict[str, Any]] = Field(description="As POST /api/v1/posts takes them.")
    scheduled_at: datetime | None = None
    comment: str | None = Field(default=None, description="The client's request for changes.")
    post_id: UUID | None = Field(default=None, description="The post the approval queued.")
    post_targets: list[PostTargetState] = Field(
        default_factory=list,
        description="The queued post's targets as they stand now, in order (once approved).",
    )
    created_at: datetime
    updated_at: datetime


class DeliveryPublic(BaseModel):
    id: UUID
    client_id: UUID
    operator_id: UUID
    operator_name: str | None = Field(
        default=None, description="The delivering operator's Telegram name (None: not known)."
    )
    kind: PostKind
    media_id: UUID | None = None
    image_ids: list[UUID] = Field(default_factory=list)
    article: ArticlePublic | None = None
    note: str | None = None
    created_at: datetime
    proposals: list[ProposalPublic]
    audit: list[AuditPublic] = Field(description="Oldest first.")


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]


class FullExport(PostsExport):
    """Everything the queue holds of one client (part of ``GET /api/v1/me/export``)."""

    deliveries: list[DeliveryPublic] = Field(
        default_factory=list, description="Deliveries made to it, oldest first, with proposals."
    )
    audit: list[AuditPublic] = Field(
        default_factory=list, description="Every audit entry of its posts and deliveries."
    )


class AuditTrail(BaseModel):
    post_id: UUID
    items: list[AuditPublic] = Field(description="Oldest first.")


def _audit(
    *,
    client_id: UUID,
    action: str,
    role: str,
    actor: UUID | None,
    at: datetime,
    actor_name: str | None = None,
    delivery_id: UUID | None = None,
    proposal_id: UUID | None = None,
    post_id: UUID | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry(
        actor_name=actor_name,
        client_id=client_id,
        delivery_id=delivery_id,
        proposal_id=proposal_id,
        post_id=post_id,
        action=action,
        actor_role=role,
        actor_id=actor,
        at=at,
        detail=detail,
    )


def _audit_public(entry: AuditEntry) -> AuditPublic:
    return AuditPublic.model_validate(entry, from_attributes=True)


def _tell_pages(
    db: AsyncSession, change: ProposalChange, proposal: Proposal, operator_id: UUID
) -> None:
    """``change`` of ``proposal`` (as it stands now) on ``proposals.v1`` (outbox, in
    ``db``'s transaction): both pages' live feeds read their proposals again
    (:class:`~cachalot_common.events.ProposalChanged`). ``operator_id``: who delivered."""
    enqueue(
        db,
        PROPOSALS,
        str(proposal.client_id),
        ProposalChanged(
            change=change,
            status=cast(ProposalStatus, proposal.status),
            client_id=proposal.client_id,
            operator_id=operator_id,
            delivery_id=proposal.delivery_id,
            proposal_id=proposal.id,
            post_id=proposal.post_id,
        ),
    )


def _renamed(problem: Problem, prefix: str) -> list[dict[str, Any]]:
    """The 422's field errors, those of a proposal's own fields under ``prefix``."""
    out = []
    for error in problem.errors or []:
        field = str(error.get("field", ""))
        if field.startswith(("targets", "scheduled_at")):
            error = {**error, "field": f"{prefix}.{field}"}
        out.append(error)
    return out


class DeliveryService:
    """Deliveries, proposals and the audit trail, on the queue's database."""

    def __init__(
        self,
        factory: async_sessionmaker[AsyncSession],
        *,
        reader: async_sessionmaker[AsyncSession],
        posts: PostService,
    ) -> None:
        self._factory = factory
        self._reader = reader
        self._posts = posts

    async def client_known(self, client_id: UUID, where: Literal["query", "body"]) -> None:
        """404 unless the queue knows ``client_id`` (an account of it, not erased); the
        problem names the field ``client_id`` ``in`` ``where`` (the upload's query, the
        delivery's body)."""

        async def read() -> UUID | None:
            async with self._reader() as db:
                return await db.scalar(
                    select(Account.id)
                    .where(Account.client_id == client_id, Account.status != "deleted")
                    .limit(1)
                )

        # a client who connected its first account a moment ago: the copy may lag (catch_up)
        found = await read_until(
            read, lambda f: f is not None, wait_s=self._posts.account_catch_up_s
        )
        if found is None:
            raise Problem(
                404,
                "No such client here: it has no connected account.",
                errors=[{"field": "client_id", "in": where, "message": "no such client"}],
            )

    def _post_body(
        self, content: dict[str, Any], targets: Sequence[Any], at: datetime | None
    ) -> PostCreate:
        return PostCreate.model_validate(
            {
                **content,
                "targets": [
                    t.model_dump(mode="json", exclude_none=True) if isinstance(t, BaseModel) else t
                    for t in targets
                ],
                "scheduled_at": at.isoformat() if at is not None else None,
            }
        )

    async def deliver(
        self,
        body: DeliveryCreate,
        *,
        operator_id: UUID,
        now: datetime,
        operator_name: str | None = None,
    ) -> DeliveryPublic:
        """Record a delivery and its proposals for ``body.client_id``, each proposal checked
        as a post of that client would be (its files, accounts, blocks, time).

        Raises :class:`Problem` 404 naming ``client_id`` (unknown client) and 422 with
        every problem, a proposal's named ``proposals[i].targets[j]...`` and the
        content's as ``POST /api/v1/posts`` names them (``media_id``, ``image_ids[k]``),
        also for a file deleted between the check and the write (the orphan sweep's,
        :meth:`MediaLibrary.sweep_orphans`). A refused delivery deletes nothing: the
        operator corrects it and delivers the files already uploaded.
        """
        await self.client_known(body.client_id, "body")
        content = body.model_dump(mode="json", include={"kind", "media_id", "image_ids", "article"})
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        for index, proposal in enumerate(body.proposals):
            try:
                await self._posts.check(
                    client_id=body.client_id,
                    body=self._post_body(content, proposal.targets, proposal.scheduled_at),
                    now=now,
                    words=OPERATOR_WORDS,
                )
            except Problem as problem:
                for error in _renamed(problem, f"proposals[{index}]"):
                    if error["field"] not in seen:
                        seen.add(error["field"])
                        errors.append(error)
        if errors:
            names = ", ".join(e["field"] for e in errors)
            raise Problem(422, f"Invalid input: {names}.", errors=errors)
        delivery = Delivery(
            id=uuid4(),
            client_id=body.client_id,
            operator_id=operator_id,
            content=content,
            note=body.note,
            created_at=now,
        )
        delivery.proposals = [
            Proposal(
                id=uuid4(),
                delivery_id=delivery.id,
                position=i,
                client_id=body.client_id,
                targets={"items": _dumped(p.targets)},
                scheduled_at=p.scheduled_at,
                status="proposed",
                created_at=now,
                updated_at=now,
            )
            for i, p in enumerate(body.proposals)
        ]
        async with self._factory() as db, db.begin():
            # the orphan sweep may have deleted a file since it was checked (delete_unused):
            # share-locked until commit, so either that delete waits and then sees this
            # delivery, or this sees the file gone
            named = [(f, UUID(m)) for f, m in content_media(content) if m is not None]
            await hold_files(db, body.client_id, named, OPERATOR_WORDS)
            db.add(delivery)
            db.add(
                _audit(
                    client_id=body.client_id,
                    action="delivered",
                    role="operator",
                    actor=operator_id,
                    actor_name=operator_name,
                    at=now,
                    delivery_id=delivery.id,
                    detail={"kind": body.kind},
                )
            )
            for made in delivery.proposals:
                db.add(
                    _audit(
                        client_id=body.client_id,
                        action="proposed",
                        role="operator",
                        actor=operator_id,
                        actor_name=operator_name,
                        at=now,
                        delivery_id=delivery.id,
                        proposal_id=made.id,
                    )
                )
                _tell_pages(db, "proposed", made, operator_id)
        [public] = await self._page(select(Delivery).where(Delivery.id == delivery.id))
        return public

    async def propose(
        self,
        *,
        delivery_id: UUID,
        body: ProposalIn,
        operator_id: UUID,
        now: datetime,
        operator_name: str | None = None,
    ) -> DeliveryPublic:
        """One more proposal for a delivery (e.g. after the client asked for changes),
        checked as :meth:`deliver` checks one. The delivery's proposals at
        ``changes_requested`` become ``superseded`` (the module's rule). Raises 404 (no such
        delivery), 422 naming ``proposals`` when the delivery already has
        :data:`MAX_PROPOSALS`, and 422 naming the field as ``POST /api/v1/posts`` would
        (``targets[i]...``, ``scheduled_at``)."""
        async with self._reader() as db:
            delivery = await db.get(Delivery, delivery_id)
            if delivery is None:
                raise Problem(404, "No such delivery.")
            content = dict(delivery.content)
            client_id = delivery.client_id
        await self._posts.check(
            client_id=client_id,
            body=self._post_body(content, body.targets, body.scheduled_at),
            now=now,
            words=OPERATOR_WORDS,
        )
        async with self._factory() as db, db.begin():
            # the delivery's row lock serialises two proposals for it (count and positions)
            await db.get(Delivery, delivery_id, with_for_update=True)
            last, count = (
                await db.execute(
                    select(func.max(Proposal.position), func.count()).where(
                        Proposal.delivery_id == delivery_id
                    )
                )
            ).one()
            if count >= MAX_PROPOSALS:
                raise Problem(
                    422,
                    f"This delivery already has {count} proposals, the most it can hold"
                    f" ({MAX_PROPOSALS}); deliver the content again to propose more.",
                    errors=[
                        {
                            "field": "proposals",
                            "in": "body",
                            "message": f"at most {MAX_PROPOSALS} proposals per delivery",
                        }
                    ],
                )
            superseded = (
                await db.scalars(
                    select(Proposal)
                    .where(
                        Proposal.delivery_id == delivery_id,
                        Proposal.status == "changes_requested",
                    )
                    .with_for_update()
                )
            ).all()
            proposal = Proposal(
                id=uuid4(),
                delivery_id=delivery_id,
                position=(last if last is not None else -1) + 1,
                client_id=client_id,
                targets={"items": _dumped(body.targets)},
                scheduled_at=body.scheduled_at,
                status="proposed",
                created_at=now,
                updated_at=now,
            )
            db.add(proposal)
            db.add(
                _audit(
                    client_id=client_id,
                    action="proposed",
                    role="operator",
                    actor=operator_id,
                    actor_name=operator_name,
                    at=now,
                    delivery_id=delivery_id,
                    proposal_id=proposal.id,
                )
            )
            _tell_pages(db, "proposed", proposal, operator_id)
            for old in superseded:
                old.status = "superseded"
                old.updated_at = now
                db.add(
                    _audit(
                        client_id=client_id,
                        action="superseded",
                        role="operator",
                        actor=operator_id,
                        actor_name=operator_name,
                        at=now,
                        delivery_id=delivery_id,
                        proposal_id=old.id,
                        detail={"by": str(proposal.id)},
                    )
                )
                _tell_pages(db, "superseded", old, operator_id)
        [public] = await self._page(select(Delivery).where(Delivery.id == delivery_id))
        return public

    async def listed(self, *, client_id: UUID | None, limit: int) -> list[DeliveryPublic]:
        """Deliveries newest first: one client's, or (``None``, the operator) everyone's."""
        query = select(Delivery)
        if client_id is not None:
            query = query.where(Delivery.client_id == client_id)
        return await self._page(query.order_by(Delivery.created_at.desc()).limit(limit))

    async def _page(self, query: Any) -> list[DeliveryPublic]:
        async with self._reader() as db:
            deliveries = list(
                (await db.scalars(query.options(selectinload(Delivery.proposals)))).all()
            )
            ids = [d.id for d in deliveries]
            entries = (
                list(
                    (
                        await db.scalars(
                            select(AuditEntry)
                            .where(AuditEntry.delivery_id.in_(ids))
                            .order_by(AuditEntry.at, AuditEntry.id)
                        )
                    ).all()
                )
                if ids
                else []
            )
            posts = [p.post_id for d in deliveries for p in d.proposals if p.post_id is not None]
            rows = (
                (
                    await db.execute(
                        select(Target.post_id, Target.platform, Target.status)
                        .where(Target.post_id.in_(posts))
                        .order_by(Target.post_id, Target.position)
                    )
                ).all()
                if posts
                else []
            )
        states: dict[UUID, list[PostTargetState]] = {}
        for post_id, platform, status in rows:
            states.setdefault(post_id, []).append(PostTargetState(platform=platform, status=status))
        by_delivery: dict[UUID, list[AuditPublic]] = {}
        for entry in entries:
            assert entry.delivery_id is not None
            by_delivery.setdefault(entry.delivery_id, []).append(_audit_public(entry))
        return [_public(d, by_delivery.get(d.id, []), states) for d in deliveries]

    async def _open(self, db: AsyncSession, client_id: UUID, proposal_id: UUID) -> Proposal:
        """The client's proposal, row-locked (404: none of this client's)."""
        proposal = await db.scalar(
            select(Proposal)
            .where(Proposal.id == proposal_id, Proposal.client_id == client_id)
            .with_for_update()
        )
        if proposal is None:
            raise Problem(404, "No such proposal.")
        return proposal

    async def _content(self, db: AsyncSession, proposal: Proposal) -> dict[str, Any]:
        delivery = await db.get(Delivery, proposal.delivery_id)
        assert delivery is not None
        return dict(delivery.content)

    async def edit(
        self, *, client_id: UUID, proposal_id: UUID, body: ProposalUpdate, now: datetime
    ) -> ProposalPublic:
        """The client changes an open proposal's targets and/or time, checked by the rules
        of a post (422 naming ``targets[i]...``, ``scheduled_at``); 404 none of its own,
        409 already approved."""
        async with self._reader() as db:
            proposal = await db.scalar(
                select(Proposal).where(Proposal.id == proposal_id, Proposal.client_id == client_id)
            )
            if proposal is None:
                raise Problem(404, "No such proposal.")
            content = await self._content(db, proposal)
        targets: Sequence[Any] = (
            body.targets if body.targets is not None else proposal.targets["items"]
        )
        at = body.scheduled_at if body.scheduled_at is not None else proposal.scheduled_at
        await self._posts.check(
            client_id=client_id, body=self._post_body(content, targets, at), now=now
        )
        async with self._factory() as db, db.begin():
            proposal = await self._open(db, client_id, proposal_id)
            await _still_open(db, proposal)
            changed = []
            if body.targets is not None:
                proposal.targets = {"items": _dumped(body.targets)}
                changed.append("targets")
            if body.scheduled_at is not None:
                proposal.scheduled_at = body.scheduled_at
                changed.append("scheduled_at")
            proposal.updated_at = now
            db.add(
                _audit(
                    client_id=client_id,
                    action="edited",
                    role="client",
                    actor=client_id,
                    at=now,
                    delivery_id=proposal.delivery_id,
                    proposal_id=proposal.id,
                    detail={"changed": changed},
                )
            )
            delivery = await db.get(Delivery, proposal.delivery_id)
            assert delivery is not None
            _tell_pages(db, "edited", proposal, delivery.operator_id)
            return _proposal_public(proposal)

    async def approve(
        self, *, client_id: UUID, proposal_id: UUID, now: datetime
    ) -> tuple[ProposalPublic, bool]:
        """The client's approval: the post is queued by :meth:`PostService.create` (the path
        and checks of ``POST /api/v1/posts``), the approval recorded as the client's act and
        the operator told. Returns the proposal and whether a post was newly queued.

        Approving again gives the same proposal and post (the Idempotency-Key
        ``cachalot-proposal-<id>``). Raises 404 (none of the client's), 409 when the
        proposal was superseded by the operator's answer to a request for changes
        (``superseded_by``: the module's rule), 422 as ``POST /api/v1/posts``.

        **A late approval** (after the suggested time) queues the post for now: approving
        is the client's "post it", and the dashboard said before the click that the time
        had passed and that Edit picks another (``web/proposals.js``); the trail's
        ``approved`` entry says so (``detail.late``, ``detail.suggested_at``). Refusing
        instead (the rule of a post's own past time) would make the client edit a time
        it never chose in order to say yes.

        The post and the approval commit in one transaction, with the proposal as the
        approval read it: an edit, a request for changes or a new proposal that commits
        first wins, and the approval reads the proposal again (an edit: the post holds the
        edited texts; the others: 409), so the post is never the proposal before an edit
        the client was answered 200 for (fresh13c: 4 of 4 concurrent edit + approve pairs
        kept the old texts).
        """
        for _ in range(APPROVAL_TRIES):
            try:
                return await self._approve_once(client_id, proposal_id, now)
            except _EditedMeanwhile:
                continue  # no post was queued: approve what the proposal says now
        raise Problem(
            409,
            "This proposal kept changing while it was being approved; approve it again.",
            title="Changed meanwhile",
        )

    async def _approve_once(
        self, client_id: UUID, proposal_id: UUID, now: datetime
    ) -> tuple[ProposalPublic, bool]:
        """One try of :meth:`approve`; raises :class:`_EditedMeanwhile` for another."""
        async with self._reader() as db:
            proposal = await db.scalar(
                select(Proposal).where(Proposal.id == proposal_id, Proposal.client_id == client_id)
            )
            if proposal is None:
                raise Problem(404, "No such proposal.")
            if proposal.status == "approved":
                return _proposal_public(proposal), False
            await _still_open(db, proposal)
            content = await self._content(db, proposal)
            seen = (proposal.targets, proposal.scheduled_at)
        suggested = proposal.scheduled_at
        late = suggested if suggested is not None and suggested < now else None
        body = self._post_body(content, proposal.targets["items"], None if late else suggested)
        answer: list[ProposalPublic] = []

        async def record(db: AsyncSession, post: PostPublic) -> None:
            answer.append(
                await self._record_approval(
                    db, client_id, proposal_id, post, seen, now, late_from=late
                )
            )

        created = await self._posts.create(
            client_id=client_id,
            body=body,
            idempotency_key=f"{IDEMPOTENCY_PREFIX}{proposal_id}",
            now=now,
            within=record,
        )
        if not created.replayed:
            return answer[0], True
        # replayed (what ``record`` wrote, if it ran, was rolled back with our post): a
        # concurrent approval queued the post and recorded itself (or, before the two were
        # one transaction, queued it and stopped short of the record)
        async with self._factory() as db, db.begin():
            again = await self._open(db, client_id, proposal_id)
            if again.status in OPEN:
                recorded = await self._record_approval(
                    db, client_id, proposal_id, created.post, None, now
                )
                return recorded, False
            return _proposal_public(again), False

    async def _record_approval(
        self,
        db: AsyncSession,
        client_id: UUID,
        proposal_id: UUID,
        post: PostPublic,
        seen: tuple[Any, datetime | None] | None,
        now: datetime,
        *,
        late_from: datetime | None = None,
    ) -> ProposalPublic:
        """Mark the proposal approved in the transaction that queues its ``post``
        (:meth:`PostService.create` ``within``), so that the post holds what was approved:
        raises :class:`_EditedMeanwhile` (the post is not queued) when an edit, a request
        for changes or a new proposal committed after the proposal was read (``seen``: its
        targets and time then; ``None``: the post is queued already, record it).
        ``late_from``: the suggested time an approval came after (the post is for now)."""
        proposal = await self._open(db, client_id, proposal_id)
        if seen is not None and (
            proposal.status not in OPEN or (proposal.targets, proposal.scheduled_at) != seen
        ):
            raise _EditedMeanwhile()
        proposal.status = "approved"
        proposal.post_id = post.id
        proposal.updated_at = now
        db.add(
            _audit(
                client_id=client_id,
                action="approved",
                role="client",
                actor=client_id,
                at=now,
                delivery_id=proposal.delivery_id,
                proposal_id=proposal.id,
                post_id=post.id,
                detail={
                    "scheduled_at": post.scheduled_at.isoformat(),
                    **(
                        {"late": True, "suggested_at": late_from.isoformat()}
                        if late_from is not None
                        else {}
                    ),
                },
            )
        )
        await _tell_operator(
            db,
            proposal,
            "approved",
            post_id=post.id,
            scheduled_at=post.scheduled_at,
            platforms=[t.platform for t in post.targets],
        )
        return _proposal_public(proposal)

    async def request_changes(
        self, *, client_id: UUID, proposal_id: UUID, comment: str, now: datetime
    ) -> ProposalPublic:
        """The client sends an open proposal back with ``comment``; the operator is told.
        404 none of the client's, 409 already approved."""
        async with self._factory() as db, db.begin():
            proposal = await self._open(db, client_id, proposal_id)
            await _still_open(db, proposal)
            proposal.status = "changes_requested"
            proposal.comment = comment
            proposal.updated_at = now
            db.add(
                _audit(
                    client_id=client_id,
                    action="changes_requested",
                    role="client",
                    actor=client_id,
                    at=now,
                    delivery_id=proposal.delivery_id,
                    proposal_id=proposal.id,
                    detail={"comment": comment},
                )
            )
            await _tell_operator(db, proposal, "changes_requested", comment=comment)
            return _proposal_public(proposal)

    async def trail(self, *, post_id: UUID, client_id: UUID | None) -> AuditTrail:
        """A post's audit trail, oldest first: its delivery and proposal (delivered,
        proposed, edited, approved) or ``queued`` by the client itself, then each
        attempt's lease granted (``leased``) and how it ended (``published``, ...).
        ``client_id``: only that client's post (404 otherwise); None for the operator."""
        async with self._reader() as db:
            query = select(Post).where(Post.id == post_id)
            if client_id is not None:
                query = query.where(Post.client_id == client_id)
            post = await db.scalar(query)
            if post is None:
                raise Problem(404, "No such post.")
            proposal = await db.scalar(select(Proposal).where(Proposal.post_id == post_id))
            where = AuditEntry.post_id == post_id
            if proposal is not None:
                where = or_(
                    where,
                    AuditEntry.proposal_id == proposal.id,
                    (AuditEntry.delivery_id == proposal.delivery_id)
                    & AuditEntry.proposal_id.is_(None),
                )
            entries = (
                await db.scalars(
                    select(AuditEntry).where(where).order_by(AuditEntry.at, AuditEntry.id)
                )
            ).all()
        items = [_audit_public(e) for e in entries]
        if proposal is None:
            items.insert(
                0,
                AuditPublic(
                    action="queued",
                    actor_role="client",
                    actor_id=post.client_id,
                    at=post.created_at,
                    post_id=post.id,
                ),
            )
        return AuditTrail(post_id=post_id, items=items)

    async def export(self, *, client_id: UUID) -> tuple[list[DeliveryPublic], list[AuditPublic]]:
        """The client's deliveries (with proposals and their trail) and its posts' trail
        entries, oldest first: its part of the data export."""
        deliveries = await self._page(
            select(Delivery)
            .where(Delivery.client_id == client_id)
            .order_by(Delivery.created_at, Delivery.id)
        )
        async with self._reader() as db:
            entries = (
                await db.scalars(
                    select(AuditEntry)
                    .where(AuditEntry.client_id == client_id)
                    .order_by(AuditEntry.at, AuditEntry.id)
                )
            ).all()
        return deliveries, [_audit_public(e) for e in entries]


async def _tell_operator(
    db: AsyncSession,
    proposal: Proposal,
    answer: Literal["approved", "changes_requested"],
    **fields: Any,
) -> None:
    """The client's answer to ``proposal``, in ``db``'s transaction: ``ProposalAnswered`` for
    the operator's Telegram (``fields``: the answer's own, e.g. ``comment``, ``post_id``) and
    the change for both pages' live feeds."""
    delivery = await db.get(Delivery, proposal.delivery_id)
    assert delivery is not None
    enqueue(
        db,
        NOTIFY,
        str(proposal.client_id),
        ProposalAnswered(
            answer=answer,
            client_id=proposal.client_id,
            operator_id=delivery.operator_id,
            delivery_id=proposal.delivery_id,
            proposal_id=proposal.id,
            **fields,
        ),
    )
    _tell_pages(db, answer, proposal, delivery.operator_id)


def _dumped(targets: Sequence[BaseModel]) -> list[dict[str, Any]]:
    """Targets as JSON, as ``POST /api/v1/posts`` takes them (blocks not sent left out)."""
    return [t.model_dump(mode="json", exclude_none=True) for t in targets]


async def _still_open(db: AsyncSession, proposal: Proposal) -> None:
    """409 unless the proposal is open: approved (``post_id``) or superseded
    (``superseded_by``: the proposal that answered the request for changes)."""
    if proposal.status == "superseded":
        detail = await db.scalar(
            select(AuditEntry.detail)
            .where(AuditEntry.proposal_id == proposal.id, AuditEntry.action == "superseded")
            .order_by(AuditEntry.at.desc())
            .limit(1)
        )
        raise Problem(
            409,
            "This proposal was superseded: you asked for changes and the operator answered"
            " with a new proposal of the same delivery; approve or edit that one.",
            title="Superseded",
            delivery_id=str(proposal.delivery_id),
            superseded_by=(detail or {}).get("by"),
        )
    if proposal.status not in OPEN:
        raise Problem(
            409,
            "This proposal was already approved; its post is changed or cancelled as a post.",
            title="Already approved",
            post_id=str(proposal.post_id),
        )


def _proposal_public(
    proposal: Proposal, states: dict[UUID, list[PostTargetState]] | None = None
) -> ProposalPublic:
    return ProposalPublic(
        id=proposal.id,
        delivery_id=proposal.delivery_id,
        status=proposal.status,  # type: ignore[arg-type]
        targets=list(proposal.targets["items"]),
        scheduled_at=proposal.scheduled_at,
        comment=proposal.comment,
        post_id=proposal.post_id,
        post_targets=(states or {}).get(proposal.post_id, []) if proposal.post_id else [],
        created_at=proposal.created_at,
        updated_at=proposal.updated_at,
    )


def _public(
    delivery: Delivery, audit: list[AuditPublic], states: dict[UUID, list[PostTargetState]]
) -> DeliveryPublic:
    content = delivery.content
    article = content.get("article")
    return DeliveryPublic(
        id=delivery.id,
        client_id=delivery.client_id,
        operator_id=delivery.operator_id,
        operator_name=next((a.actor_name for a in audit if a.action == "delivered"), None),
        kind=content.get("kind", "video"),
        media_id=content.get("media_id"),
        image_ids=content.get("image_ids") or [],
        article=ArticlePublic.model_validate(article) if article else None,
        note=delivery.note,
        created_at=delivery.created_at,
        proposals=[_proposal_public(p, states) for p in delivery.proposals],
        audit=audit,
    )


def build_delivery_routers(
    deliveries: DeliveryService,
    *,
    upload: Callable[[Request, UUID, UUID], Any],
    clock: Callable[[], datetime],
    wake: Callable[[], None],
    refuse_if_erased: Callable[[UUID], Awaitable[None]],
) -> tuple[APIRouter, APIRouter]:
    """(the operator's router, the client's router). ``upload(request, client_id,
    operator_id)`` stores a request's body as one of the client's files (the path of
    ``POST /api/v1/media``), recorded as that operator's upload;
    ``wake()`` tells the scheduler and relay a post was queued; ``refuse_if_erased`` is
    ``POST /api/v1/posts``'s check after its write (a client erased meanwhile: 401)."""
    operator = APIRouter(
        prefix="/api/v1/operator",
        route_class=StrictJsonRoute,
        tags=["deliveries"],
        responses=problem_responses(401, 403, 422),
    )
    client = APIRouter(
        prefix="/api/v1",
        route_class=StrictJsonRoute,
        tags=["proposals"],
        responses=problem_responses(401, 403, 422),
    )

    @operator.post(
        "/media",
        status_code=201,
        response_model=MediaPublic,
        responses=problem_responses(404, 413, 415, 507),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}}
                    for t in ("video/mp4", "image/jpeg", "image/png", "application/octet-stream")
                },
            }
        },
    )
    async def operator_upload(
        request: Request,
        op: CurrentOperator,
        client_id: Annotated[UUID, Query(description="The client whose library gets it.")],
    ) -> Any:
        """Upload a video or an image into a client's media library (raw body, as
        ``POST /api/v1/media``: same checks, the client's quota): the file is the client's."""
        await deliveries.client_known(client_id, "query")
        return await upload(request, client_id, op.client_id)

    async def deliver(body: DeliveryCreate, op: CurrentOperator) -> DeliveryPublic:
        """Deliver content of a client's library with proposals for the client to approve;
        nothing is queued until the client approves. A refused delivery (422) leaves the
        files it named in the client's library, for the corrected delivery; files no
        delivery ever names go with the orphan sweep (``CACHALOT_OPERATOR_UPLOAD_ORPHAN_HOURS``)."""
        return await deliveries.deliver(
            body, operator_id=op.client_id, operator_name=op.name, now=clock()
        )

    operator.add_api_route(
        "/deliveries",
        deliver,
        methods=["POST"],
        status_code=201,
        response_model=DeliveryPublic,
        responses=problem_responses(404),
    )

    @operator.post(
        "/deliveries/{delivery_id}/proposals",
        status_code=201,
        response_model=DeliveryPublic,
        responses=problem_responses(404),
    )
    async def propose(delivery_id: UUID, body: ProposalIn, op: CurrentOperator) -> DeliveryPublic:
        """Propose once more for a delivery (after the client asked for changes); the
        delivery comes back with all its proposals."""
        return await deliveries.propose(
            delivery_id=delivery_id,
            body=body,
            operator_id=op.client_id,
            operator_name=op.name,
            now=clock(),
        )

    @operator.get("/deliveries", response_model=DeliveryPage)
    async def operator_deliveries(
        op: CurrentOperator,
        client_id: UUID | None = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> DeliveryPage:
        """Deliveries of one client or all, newest first, with each proposal's status, the
        client's comments and the trail."""
        return DeliveryPage(items=await deliveries.listed(client_id=client_id, limit=limit))

    @operator.get(
        "/posts/{post_id}/audit", response_model=AuditTrail, responses=problem_responses(404)
    )
    async def operator_trail(post_id: UUID, op: CurrentOperator) -> AuditTrail:
        """A post's audit trail (any client's)."""
        return await deliveries.trail(post_id=post_id, client_id=None)

    @client.get("/posts/proposals", response_model=DeliveryPage)
    async def client_proposals(
        client_id: CurrentClient, limit: Annotated[int, Query(ge=1, le=200)] = 50
    ) -> DeliveryPage:
        """What operators delivered to the client, newest first, with their proposals."""
        return DeliveryPage(items=await deliveries.listed(client_id=client_id, limit=limit))

    @client.patch(
        "/posts/proposals/{proposal_id}",
        response_model=ProposalPublic,
        responses=problem_responses(404, 409),
    )
    async def edit_proposal(
        proposal_id: UUID, body: ProposalUpdate, client_id: CurrentClient
    ) -> ProposalPublic:
        """Change an open proposal's targets or time (rules of ``POST /api/v1/posts``)."""
        return await deliveries.edit(
            client_id=client_id, proposal_id=proposal_id, body=body, now=clock()
        )

    @client.post(
        "/posts/proposals/{proposal_id}/approve",
        response_model=ProposalPublic,
        responses=problem_responses(404, 409),
    )
    async def approve_proposal(proposal_id: UUID, client_id: CurrentClient) -> ProposalPublic:
        """Approve: queue the post as proposed (``post_id``); the operator is told."""
        proposal, queued = await deliveries.approve(
            client_id=client_id, proposal_id=proposal_id, now=clock()
        )
        await refuse_if_erased(client_id)
        if queued:
            wake()
        return proposal

    @client.post(
        "/posts/proposals/{proposal_id}/request-changes",
        response_model=ProposalPublic,
        responses=problem_responses(404, 409),
    )
    async def request_changes(
        proposal_id: UUID, body: ChangesRequest, client_id: CurrentClient
    ) -> ProposalPublic:
        """Send a proposal back to the operator with a comment; the operator is told."""
        return await deliveries.request_changes(
            client_id=client_id, proposal_id=proposal_id, comment=body.comment, now=clock()
        )

    @client.get(
        "/posts/{post_id}/audit", response_model=AuditTrail, responses=problem_responses(404)
    )
    async def client_trail(post_id: UUID, client_id: CurrentClient) -> AuditTrail:
        """The post's audit trail: delivered by, proposed, edited, approved, leased, published."""
        return await deliveries.trail(post_id=post_id, client_id=client_id)

    return operator, client
