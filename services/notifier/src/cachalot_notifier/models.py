"""The notifier's tables: deliveries (claimed, pending, sent), chats Telegram migrated, and
the chats' flood waits every replica keeps (:mod:`cachalot_common.chat_waits`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false

from cachalot_common.chat_waits import chat_waits_table


class Base(DeclarativeBase):
    pass


class LeasedRow:
    """The columns of a row a sender takes for a while (:mod:`cachalot_notifier.leases`).

    ``not_before``/``claimed_until`` are epoch seconds; ``attempts`` counts takings.
    """

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[float] = mapped_column(Float, default=0.0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[float | None] = mapped_column(Float, nullable=True)


DELIVERY_STATES = ("pending", "sent", "undeliverable")


class Delivery(LeasedRow, Base):
    """One operator message: recorded by the Kafka handler, sent by the background sender.

    ``dedupe_key`` is unique: recording it is the atomic "already sent?"
    claim, whichever replica gets the event first. ``lane`` is the queue the
    row waits in (destination + topic): only the oldest pending row of a lane
    is tried, so order holds within it and a lane Telegram told to wait
    never holds another. Times the sender compares are epoch seconds.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_state_lane_id", "state", "lane", "id"),)

    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    source_topic: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[UUID] = mapped_column(Uuid)
    channel: Mapped[str] = mapped_column(String(40))
    lane: Mapped[str] = mapped_column(String(300))
    chat_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    parse_mode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    plain_text: Mapped[str] = mapped_column(Text)
    event_key: Mapped[str] = mapped_column(String(300), default="")
    event_json: Mapped[str] = mapped_column(Text, default="")
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # W3C traceparent of the event's handling: the sender's Telegram call continues it
    traceparent: Mapped[str | None] = mapped_column(String(55), nullable=True)
    # epoch seconds a sendMessage call began; cleared when its answer was read, so a row
    # taken with it set had a call whose outcome nobody learnt (a kill, a read timeout)
    call_started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # set for good once such a row is taken: it may be in the chat already, and every
    # later send of it says so (deliveries.py, "At least once")
    possibly_sent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ChatMigration(Base):
    """A group Telegram upgraded to a supergroup (``parameters.migrate_to_chat_id``)."""

    __tablename__ = "chat_migrations"

    old_chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    new_chat_id: Mapped[str] = mapped_column(String(64))
    migrated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


chat_waits = chat_waits_table(Base.metadata)
"""A 429's wait per chat, shared by the replicas (read before each Bot API call)."""


EMAIL_STATES = ("pending", "sent", "failed", "skipped")


class EmailNotice(LeasedRow, Base):
    """One e-mail to a client: recorded by the Kafka handler, sent by the mail sender.

    ``dedupe_key`` is unique, so a redelivered event, or the same event in a
    second replica, records nothing new: a failed target and an account to
    reconnect are keyed by their event, a policy notice by (version, client),
    so each client gets one per version whatever happens to the events.
    The address is not stored: it is looked up from auth when the mail is
    sent. ``facts`` is the JSON the mail is written from (platform, post,
    reason); it is forgotten once the row is finished.
    States: ``pending`` → ``sent`` (with the server's reply), ``failed`` (a
    5xx reply: permanent, RFC 5321 §4.2.1), or ``skipped`` (notices switched
    off, no address, client erased). Times the sender compares are epoch seconds.
    """

    __tablename__ = "email_notices"
    __table_args__ = (Index("ix_email_notices_state_not_before", "state", "not_before"),)

    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[UUID] = mapped_column(Uuid, index=True)
    facts: Mapped[str] = mapped_column(Text, default="")
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    message_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class NoticeOptOut(Base):
    """A client who switched e-mail notices off (the one-click link, RFC 8058)."""

    __tablename__ = "notice_opt_outs"

    client_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
