"""publisher-telegram's tables: what was sent for each target and what was begun, and the
chats' flood waits every replica keeps (:mod:`cachalot_common.chat_waits`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cachalot_common.chat_waits import chat_waits_table


class Base(DeclarativeBase):
    pass


class PostRow(Base):
    """One target's post in its channel.

    ``started_attempt`` is written *before* the Bot API call that posts and
    cleared when Telegram answered an error (nothing was posted); the message
    ids are written after its answer. A row found started with no message id
    means a call whose answer was lost (crash, dropped connection): Telegram
    has no lookup of sent messages, so the attempt ends ``outcome_unknown`` (the
    target unconfirmed) rather than posting twice. ``unknown_reported_attempt``
    remembers that answer: only a later attempt (the client's "publish again")
    may post again.
    The Telegraph page, made before the announcement, is kept so a retry
    announces the same page, but only for the content it was made from
    (``telegraph_made_from``: :attr:`PublishPost.made_from`); a later attempt of other
    content (the client changed the post after a failure) makes a page of its own.
    """

    __tablename__ = "telegram_posts"

    target_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    post_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36))
    chat_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unknown_reported_attempt: Mapped[int | None] = mapped_column(Integer, nullable=True)
    telegraph_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    telegraph_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    telegraph_made_from: Mapped[str | None] = mapped_column(
        String(64), nullable=True, comment="PublishPost.made_from of the Telegraph page"
    )
    message_ids: Mapped[str | None] = mapped_column(Text, nullable=True)
    remote_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


chat_waits = chat_waits_table(Base.metadata)
"""A 429's wait per channel, shared by the replicas (read before each Bot API call)."""
