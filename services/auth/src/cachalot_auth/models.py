"""Auth's tables (SQLAlchemy 2 typed ORM). Only auth reads or writes them.

No column ever holds a token in clear: ``tokens.ciphertext`` is sealed by
:mod:`cachalot_common.crypto` with the row's identity as associated data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cachalot_common.events import ACCOUNT_NAME_MAX_CHARS, Community


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both backends (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Client(Base):
    """A person or business using CACHALOT; created by their first sign-in."""

    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    email: Mapped[str | None] = mapped_column(String(320))
    email_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    adult_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    """The language of the client's e-mails (``en``/``ru``), when it said; else English."""


NEEDS_CHANNEL: Final = "needs_channel"
"""An account status: a Telegram account whose channel is the problem (none linked, or our
bot can no longer post there). The sign-in is fine; the client links a channel (issue 10)."""
CHANNEL_NOT_LINKED: Final = "channel_not_linked"
CHANNEL_LINK_BROKEN: Final = "channel_link_broken"
CHANNEL_NOT_LINKED_REASON: Final = (
    "link a channel first: add our bot as an administrator of your channel with "
    "the right to post messages, then link the channel in the dashboard"
)


class Account(Base):
    """A social account a client connected.

    ``status``: ``ok``; ``reauth_required`` (sign in again); :data:`NEEDS_CHANNEL`
    (Telegram: link a channel); ``revoked`` (given up).
    """

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id", name="uq_account_identity"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    platform_user_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(ACCOUNT_NAME_MAX_CHARS))
    status: Mapped[str] = mapped_column(String(24), default="ok")
    status_reason: Mapped[str | None] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(Text, default="")
    device_id: Mapped[str | None] = mapped_column(String(256))
    channel_id: Mapped[str | None] = mapped_column(String(64))
    # VK: the communities the person administered at the last sign-in, each
    # {"id", "name", "screen_name"} as groups.get extended=1 gave it, by id (None: not
    # known); carried to the queue on accounts.v1 (issue 10)
    vk_communities: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON(none_as_null=True))
    # the linked channel's title, shown beside the account's own name (issue 12)
    channel_title: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # when its community names / channel title were last read again on the client's ask
    # (ClientService.read_details; at most once a minute)
    details_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # bumped each time tokens are stored (sign-in, reconnect, refresh): the version a lease
    # carries, so a publisher's late report on a replaced token is told apart (never secret)
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def scope_list(self) -> list[str]:
        return [s for s in self.scopes.split(" ") if s]

    def community_details(self) -> list[Community] | None:
        """:attr:`vk_communities` as :class:`Community` objects, ``None`` when not known."""
        if self.vk_communities is None:
            return None
        return [Community.model_validate(c) for c in self.vk_communities]

    def community_list(self) -> list[int] | None:
        """The ids of :meth:`community_details`, ``None`` when not known."""
        details = self.community_details()
        return None if details is None else [c.id for c in details]


class Token(Base):
    """One sealed token of an account: ``kind`` is ``access`` or ``refresh``."""

    __tablename__ = "tokens"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    key_version: Mapped[str] = mapped_column(String(16), index=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OAuthAttempt(Base):
    """Server-side half of a sign-in attempt: makes ``state`` single-use."""

    __tablename__ = "oauth_attempts"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SessionRow(Base):
    """A signed-in browser; logout and erasure revoke it here."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OperatorSessionRow(Base):
    """An operator's session (role ``operator``): revocable like a client's ``sessions`` row.

    No operator table: who may sign in is ``CACHALOT_OPERATOR_TELEGRAM_IDS``; a
    row exists only for a listed person who signed in (``operator_id`` is derived
    from the Telegram user id, :func:`cachalot_auth.operators.operator_id`).
    """

    __tablename__ = "operator_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operator_id: Mapped[str] = mapped_column(String(36), index=True)
    telegram_user_id: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LeaseAudit(Base):
    """Every token lease: which service, for which post, when (the client's audit trail)."""

    __tablename__ = "lease_audit"
    __table_args__ = (Index("ix_lease_audit_account_time", "account_id", "leased_at"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    account_id: Mapped[str] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    service: Mapped[str] = mapped_column(String(64))
    post_id: Mapped[str] = mapped_column(String(36))
    target_id: Mapped[str | None] = mapped_column(String(36))
    refreshed: Mapped[bool] = mapped_column(Boolean, default=False)
    leased_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SpentServiceToken(Base):
    """A service JWT already used (its ``jti``), kept until it expires: a replay is refused.

    In the database, not in memory, so every auth replica refuses the second use;
    rows past ``expires_at`` are pruned (:mod:`cachalot_auth.service_tokens`).
    """

    __tablename__ = "spent_service_tokens"

    token_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SpentAttempt(Base):
    """Per target, the highest publish attempt that is over (published, cancelled,
    failed, scheduled again, paused, or followed by a newer dispatch).

    Written from the queue's ``posts.status.v1`` (:mod:`cachalot_auth.attempts`);
    a lease whose grant names this target and an attempt up to ``over_through``
    is refused (``grant_spent``). Kept until every grant it could refuse has
    expired (``expires_at``), then pruned.
    """

    __tablename__ = "spent_attempts"

    target_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    over_through: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class OutboxMessage(Base):
    """An event written with the change that caused it; the relay publishes it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unsent", "sent_at", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    topic: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PolicyVersion(Base):
    """A privacy-policy version the operator published; each is announced once.

    Publishing writes this row and, in the same transaction, one
    ``notify.v1`` ``ClientNoticeRequested`` per client with an active OAuth
    account (outbox): the primary key refuses a second publication of a
    version, and the notifier sends one e-mail per (version, client).
    """

    __tablename__ = "policy_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    summary: Mapped[str | None] = mapped_column(String(500), nullable=True)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by: Mapped[str] = mapped_column(String(36))
    recipients: Mapped[int] = mapped_column(Integer, default=0)


class CreatorInfoKept(Base):
    """TikTok's last ``creator_info`` answer for an account, shared by every auth replica.

    TikTok allows 20 ``creator_info`` calls a minute per token (shared/reference/
    platforms.md §1.2); keeping the answer here rather than in each replica's memory
    bounds the dashboard's calls per account whatever the number of replicas
    (:mod:`cachalot_auth.creator_info`). ``answer`` is the JSON the composer reads (a
    nickname, the privacy levels, the switches; never a token); the row goes with its
    account (erasure deletes accounts).
    """

    __tablename__ = "creator_info_kept"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answer: Mapped[str] = mapped_column(Text)
