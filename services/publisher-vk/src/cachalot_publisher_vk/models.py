"""The one table publisher-vk owns: what each target has put on VK so far."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, Text, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class WallPostRow(Base):
    """One target: the attachments uploaded (in order), then the wall post's id.

    Attachments are recorded as each upload is saved, so a redelivery does
    not upload them again; ``wall.post`` carries ``guid`` = the target id, so
    VK answers a repeated call with the same post; the post id, once
    recorded, makes the target answer ``published`` without calling VK. The
    attachments are for the files and options ``made_from`` names: a later attempt
    for other ones (the client changed the post after a failure) uploads again.
    """

    __tablename__ = "vk_wall_posts"

    target_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    post_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36))
    owner_id: Mapped[int] = mapped_column(BigInteger)
    attachments: Mapped[str] = mapped_column(Text, default="")
    made_from: Mapped[str | None] = mapped_column(
        String(64), nullable=True, comment="PublishPost.made_from of the attachments"
    )
    wall_post_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
