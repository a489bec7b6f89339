"""The one table publisher-instagram owns: each target's containers and what they became."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class ContainerRow(Base):
    """One target: its carousel items, its container, then its media id and permalink.

    Each id is written as soon as Instagram answers with it, before the next
    step, so a redelivered command reads the container's status instead of
    creating a second one, and a published target answers ``published``
    again instead of posting twice. ``published_at`` feeds the quota wait.
    ``failed_attempt``: the attempt in which the container ended in ERROR; a
    later attempt makes new containers (an ERROR container is spent).
    """

    __tablename__ = "instagram_containers"

    target_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    post_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36), index=True)
    children: Mapped[str] = mapped_column(Text, default="")  # comma-separated item containers
    container_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    containers_created: Mapped[int] = mapped_column(default=0)
    made_from: Mapped[str | None] = mapped_column(
        String(64), nullable=True, comment="PublishPost.made_from of the containers"
    )
    failed_attempt: Mapped[int | None] = mapped_column(
        nullable=True, comment="PublishPost.attempt in which the container ended in ERROR"
    )
    media_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    permalink: Mapped[str | None] = mapped_column(Text, nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
