"""post kinds: posts.kind, an article's title and body, and post_media (every file of a post)

A post was one video (``posts.media_id``); now it is a video, a photo post
(1–10 images, in order) or an article (a title, an HTML body, optionally a
cover image). ``post_media`` lists every file a post uses, so the deletion
guard, erasure, export and the dispatcher read one table for all kinds.
Existing posts are videos: each gets its ``post_media`` row.

Chained to 0005: 0006 (media facts, another branch) was not on main when
this was written; the lead re-chains it after 0006.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=8), server_default="video", nullable=False)
        )
        batch_op.add_column(sa.Column("article_title", sa.String(length=256), nullable=True))
        batch_op.add_column(
            sa.Column("article_body", sa.Text(), nullable=True, comment="the client's HTML subset")
        )
        batch_op.alter_column("media_id", existing_type=sa.Uuid(), nullable=True)
    op.create_table(
        "post_media",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("media_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False, comment="video, image or cover"),
        sa.ForeignKeyConstraint(["post_id"], ["posts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("post_id", "position"),
    )
    op.create_index("ix_post_media_media", "post_media", ["media_id"], unique=False)
    op.execute(
        "INSERT INTO post_media (post_id, position, media_id, role) "
        "SELECT id, 0, media_id, 'video' FROM posts WHERE media_id IS NOT NULL"
    )


def downgrade() -> None:
    # Photo and article posts have no video: they cannot be kept by the older schema.
    op.execute("DELETE FROM targets WHERE post_id IN (SELECT id FROM posts WHERE kind <> 'video')")
    op.execute("DELETE FROM posts WHERE kind <> 'video'")
    op.drop_index("ix_post_media_media", table_name="post_media")
    op.drop_table("post_media")
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.alter_column("media_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.drop_column("article_body")
        batch_op.drop_column("article_title")
        batch_op.drop_column("kind")
