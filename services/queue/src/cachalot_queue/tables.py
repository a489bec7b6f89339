"""The queue's tables (SQLAlchemy 2 typed ORM), kept apart from the domain rules.

* ``accounts``: the queue's projection of auth's ``accounts.v1`` events;
* ``media``: videos in the media store (a deleted video's row goes, its posts stay);
* ``media_reservations``: bytes held for uploads in progress (the per-client quota);
* ``posts`` and ``targets``: one target per (post, account), the unit of publishing;
* ``post_media``: every file a post uses (its video, its images in order, an
  article's cover), so deletion guards, erasure, export and dispatch see them all;
* ``outbox``: events written in the same transaction as the change they describe;
* ``dlq_redrives``: the operator's re-drives of dead-lettered messages (the audit);
* ``session_revocations``: auth's ``sessions.v1`` events (logout, erasure), kept
  until the sessions they end expire, so a restart still refuses them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from cachalot_common.events import ACCOUNT_NAME_MAX_CHARS


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both backends (SQLite keeps no zone by itself)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), UUID: Uuid()}


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    platform: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24))
    display_name: Mapped[str | None] = mapped_column(String(ACCOUNT_NAME_MAX_CHARS))
    changed_at: Mapped[datetime] = mapped_column(comment="occurred_at of the last event applied")
    communities: Mapped[list[int] | None] = mapped_column(
        JSON, comment="VK: communities administered at the last sign-in (None: not known)"
    )
    platform_user_id: Mapped[str | None] = mapped_column(
        String(64), comment="The person's id on the platform (None: not known)"
    )
    creator_info: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="TikTok: creator_info at auth's last read (None: not known)"
    )


class Media(Base):
    __tablename__ = "media"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    path: Mapped[str] = mapped_column(String(300))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(32))
    duration_sec: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime]
    # what the probe read (cachalot_queue.probe); NULL for rows stored before it existed
    kind: Mapped[str] = mapped_column(String(8), default="video", server_default="video")
    width: Mapped[int | None]
    height: Mapped[int | None]
    frame_rate: Mapped[float | None] = mapped_column(Float)
    video_codec: Mapped[str | None] = mapped_column(String(32))
    audio_codec: Mapped[str | None] = mapped_column(String(32))
    # the operator who uploaded it into the client's library (POST /api/v1/operator/media);
    # NULL: the client's own upload, or a row stored before migration 0019
    uploaded_by: Mapped[UUID | None] = mapped_column(
        comment="operator id of POST /api/v1/operator/media (NULL: the client's own upload)"
    )


class MediaReservation(Base):
    """Bytes held for one upload in progress, so parallel uploads share the quota.

    Its id is the upload's media id (and the name of its ``.part`` file); the row
    goes when the upload is stored (in the same transaction as its ``media`` row)
    or fails, and at start for a part file that no longer exists.
    """

    __tablename__ = "media_reservations"

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID] = mapped_column(index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("client_id", "idempotency_key", name="uq_posts_idempotency"),
        Index("ix_posts_client_created", "client_id", "created_at", "id"),
        Index("ix_posts_client_scheduled", "client_id", "scheduled_at", "id"),
        Index("ix_posts_media", "media_id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID]
    kind: Mapped[str] = mapped_column(String(8), default="video", server_default="video")
    # media.id of a video post's video, without a foreign key: a deleted video leaves its
    # finished posts in place; None for photo and article posts (their files: post_media)
    media_id: Mapped[UUID | None]
    article_title: Mapped[str | None] = mapped_column(String(256))
    article_body: Mapped[str | None] = mapped_column(Text, comment="the client's HTML subset")
    scheduled_at: Mapped[datetime]
    created_at: Mapped[datetime]
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    targets: Mapped[list[Target]] = relationship(
        back_populates="post", order_by="Target.position", lazy="raise"
    )
    files: Mapped[list[PostMedia]] = relationship(
        order_by="PostMedia.position", lazy="raise", cascade="all, delete-orphan"
    )


class PostMedia(Base):
    """One file of a post: ``video`` (position 0), ``image`` (0..n-1, in the post's order)
    or ``cover`` (an article's). ``media_id`` has no foreign key, like ``posts.media_id``:
    a file deleted once its posts are finished leaves their history in place."""

    __tablename__ = "post_media"
    __table_args__ = (Index("ix_post_media_media", "media_id"),)

    post_id: Mapped[UUID] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    media_id: Mapped[UUID]
    role: Mapped[str] = mapped_column(String(8), comment="video, image or cover")


def _first_due(context: DefaultExecutionContext) -> datetime:
    """A new target's ``scheduled_at`` when none is given: its first due time (which is its
    post's ``scheduled_at``), else its creation time, else now."""
    row: dict[str, Any] = context.get_current_parameters()  # type: ignore[no-untyped-call]
    first: datetime | None = row.get("due_at") or row.get("created_at")
    return first or datetime.now(UTC)


class Target(Base):
    __tablename__ = "targets"
    __table_args__ = (
        # The scheduler reads nothing else (cachalot_queue.dispatch). ``status``
        # leads although constant: with it SQLite prefers this index even
        # without statistics (it never gathers any by itself) over
        # ix_targets_status_activity, which would sort the whole backlog.
        # ``scheduled_at, created_at, id`` after ``due_at``: targets due at the same
        # moment (an account's posts held for a platform's quota window) are claimed
        # in the order they were scheduled for, then queued, read in index order, on
        # both databases (issue 10; scheduled order: issue 9, fresh17).
        Index(
            "ix_targets_due",
            "status",
            "due_at",
            "scheduled_at",
            "created_at",
            "id",
            postgresql_where=text("status = 'scheduled'"),
            sqlite_where=text("status = 'scheduled'"),
        ),
        # Only targets waiting on a platform right now: the claim holds an account's
        # later targets behind them (cachalot_queue.dispatch.held_behind_waits). The
        # predicate's columns lead, as for ix_targets_due: without statistics SQLite
        # would otherwise prefer ix_targets_account_status (the account's backlog).
        Index(
            "ix_targets_platform_wait",
            "status",
            "platform_wait",
            "account_id",
            postgresql_where=text("status = 'scheduled' AND platform_wait"),
            sqlite_where=text("status = 'scheduled' AND platform_wait = 1"),
        ),
        Index("ix_targets_account_status", "account_id", "status"),
        Index("ix_targets_status_activity", "status", "last_activity_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True)
    post_id: Mapped[UUID] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[UUID]
    account_id: Mapped[UUID]
    platform: Mapped[str] = mapped_column(String(16))
    account_name: Mapped[str | None] = mapped_column(
        String(ACCOUNT_NAME_MAX_CHARS),
        comment="the account's display name when the post was queued",
    )
    article_title: Mapped[str | None] = mapped_column(
        String(256), comment="an article's title (its post's): the words its events name"
    )
    options: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    attempt: Mapped[int] = mapped_column(Integer, default=0, comment="dispatches so far")
    budget_start: Mapped[int] = mapped_column(Integer, default=0, comment="attempt at run start")
    reconciles: Mapped[int] = mapped_column(Integer, default=0)
    waits: Mapped[int] = mapped_column(
        Integer,
        default=0,
        server_default="0",
        comment="platform-requested waits in this budget (not attempts)",
    )
    budget_started_at: Mapped[datetime | None] = mapped_column(
        comment="first dispatch of this budget"
    )
    due_at: Mapped[datetime | None]
    scheduled_at: Mapped[datetime] = mapped_column(
        default=_first_due,
        comment="its post's publish time: claim order among equal due_at",
    )
    created_at: Mapped[datetime] = mapped_column(
        default=lambda: datetime.now(UTC),
        comment="when its post was queued (its post's created_at): claim order among equal due_at",
    )
    platform_wait: Mapped[bool] = mapped_column(
        default=False,
        server_default=false(),
        comment="due_at ends a platform-requested wait: the account's later targets are held "
        "behind it",
    )
    last_activity_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
    remote_id: Mapped[str | None] = mapped_column(String(200))
    remote_url: Mapped[str | None] = mapped_column(String(1000))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_code: Mapped[str | None] = mapped_column(String(100))
    bytes_sent: Mapped[int | None] = mapped_column(BigInteger)
    bytes_total: Mapped[int | None] = mapped_column(BigInteger)
    trace_id: Mapped[str | None] = mapped_column(
        String(32), comment="W3C trace id of the latest dispatch"
    )
    traceparent: Mapped[str | None] = mapped_column(
        String(55), comment="W3C traceparent of the request that queued it"
    )

    post: Mapped[Post] = relationship(back_populates="targets", lazy="raise")


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unsent",
            "id",
            postgresql_where=text("sent_at IS NULL"),
            sqlite_where=text("sent_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)
    trace: Mapped[dict[str, Any] | None] = mapped_column(comment="W3C trace context carrier")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class DlqRedrive(Base):
    """One message an operator sent back from ``<topic>.dlq`` to its topic (the audit).

    A record is its position and its identity (``record_digest``,
    :func:`cachalot_common.dead_letters.record_digest`), unique together: a message is
    re-driven once, and a record a restarted broker wrote at the same position is another.
    """

    __tablename__ = "dlq_redrives"
    __table_args__ = (
        UniqueConstraint(
            "dlq_topic",
            "dlq_partition",
            "dlq_offset",
            "record_digest",
            name="uq_dlq_redrives_record",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dlq_topic: Mapped[str] = mapped_column(String(200))
    dlq_partition: Mapped[int] = mapped_column(Integer)
    dlq_offset: Mapped[int] = mapped_column(BigInteger)
    record_digest: Mapped[str] = mapped_column(
        String(64),
        comment="SHA-256 of the record's timestamp, key, value, headers ('': before 0018)",
    )
    source_topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    operator_id: Mapped[UUID]
    redriven_at: Mapped[datetime]


class SessionRevocation(Base):
    """One ``sessions.v1`` event: sessions the queue refuses until ``expires_at``.

    ``session_id`` for type ``revoked``; for ``all_revoked`` and
    ``client_erased`` every session of ``client_id`` issued up to
    ``occurred_at``. A ``client_erased`` row is also why the queue refuses to
    keep anything new of that client.
    """

    __tablename__ = "session_revocations"

    event_id: Mapped[UUID] = mapped_column(primary_key=True, comment="dedupe key")
    type: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[UUID] = mapped_column(index=True)
    session_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True, comment="kept until then")


class Delivery(Base):
    """What an operator delivered into a client's media library (issue 13 item 2).

    ``content`` is the post's content as ``POST /api/v1/posts`` takes it (``kind``
    and ``media_id``, ``image_ids`` or ``article``): the files are the client's own
    ``media`` rows, uploaded by the operator. The operator never queues it: only the
    client's approval of one of its proposals does (DESIGN.md "Roles").
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_client_created", "client_id", "created_at"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    client_id: Mapped[UUID]
    operator_id: Mapped[UUID]
    content: Mapped[dict[str, Any]]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]

    proposals: Mapped[list[Proposal]] = relationship(
        order_by="Proposal.position", lazy="raise", cascade="all, delete-orphan"
    )


class Proposal(Base):
    """How and when the operator proposes to post a delivery: targets of the client's
    accounts with per-target texts (``targets``: ``POST /api/v1/posts``'s ``targets``)
    and a suggested time. ``status``: ``proposed``, ``changes_requested`` (the client's
    ``comment`` says what) or ``approved`` (``post_id`` is the post the approval made)."""

    __tablename__ = "proposals"
    __table_args__ = (Index("ix_proposals_client_status", "client_id", "status"),)

    id: Mapped[UUID] = mapped_column(primary_key=True)
    delivery_id: Mapped[UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    client_id: Mapped[UUID]
    targets: Mapped[dict[str, Any]] = mapped_column(comment='{"items": [TargetCreate, ...]}')
    scheduled_at: Mapped[datetime | None] = mapped_column(comment="suggested; None: at approval")
    status: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text)
    post_id: Mapped[UUID | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AuditEntry(Base):
    """One step of a delivery's or a post's life, by whom and when (both sides read it).

    ``action``: ``delivered``, ``proposed`` (operator), ``edited``, ``approved``,
    ``changes_requested`` (client), ``leased`` (auth granted an attempt's token lease,
    at the publisher's time of it), ``published`` (the queue). ``actor_role``:
    ``operator``, ``client`` or ``queue``; ``actor_id`` the operator's or client's id.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_post", "post_id"),
        Index("ix_audit_delivery", "delivery_id"),
        Index("ix_audit_client", "client_id"),
        Index("ix_audit_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[UUID]
    delivery_id: Mapped[UUID | None]
    proposal_id: Mapped[UUID | None]
    post_id: Mapped[UUID | None]
    target_id: Mapped[UUID | None]
    action: Mapped[str] = mapped_column(String(24))
    actor_role: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[UUID | None]
    actor_name: Mapped[str | None] = mapped_column(
        String(200), comment="An operator's Telegram name at the act (None: not known)"
    )
    at: Mapped[datetime]
    detail: Mapped[dict[str, Any] | None]
