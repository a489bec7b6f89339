"""instagram_containers: container, carousel items, media id and permalink per target

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instagram_containers",
        sa.Column("target_id", sa.String(36), primary_key=True),
        sa.Column("post_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("children", sa.Text(), nullable=False, server_default=""),
        sa.Column("container_id", sa.String(64), nullable=True),
        sa.Column("containers_created", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("media_id", sa.String(64), nullable=True),
        sa.Column("permalink", sa.Text(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("ix_instagram_containers_account_id", "instagram_containers", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_instagram_containers_account_id", "instagram_containers")
    op.drop_table("instagram_containers")
