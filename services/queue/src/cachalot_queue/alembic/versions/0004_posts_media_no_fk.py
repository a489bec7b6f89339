"""posts.media_id without a foreign key (a client may delete a video its finished posts used), indexed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# SQLite keeps 0001's foreign key unnamed: batch mode names it by this convention to drop it.
SQLITE_NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("posts", naming_convention=SQLITE_NAMES) as batch_op:
            batch_op.drop_constraint("fk_posts_media_id_media", type_="foreignkey")
    else:
        op.drop_constraint("posts_media_id_fkey", "posts", type_="foreignkey")
    # which posts use a video: asked before each delete and for the media list
    op.create_index("ix_posts_media", "posts", ["media_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_posts_media", table_name="posts")
    # Posts whose video was deleted would break the key: they go back with it only if none.
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_foreign_key("posts_media_id_fkey", "media", ["media_id"], ["id"])
