"""telegram_posts: attempt begun, message ids and Telegraph page per target

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
        "telegram_posts",
        sa.Column("target_id", sa.String(36), primary_key=True),
        sa.Column("post_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=True),
        sa.Column("method", sa.String(32), nullable=True),
        sa.Column("started_attempt", sa.Integer(), nullable=True),
        sa.Column("unknown_reported_attempt", sa.Integer(), nullable=True),
        sa.Column("telegraph_path", sa.Text(), nullable=True),
        sa.Column("telegraph_url", sa.Text(), nullable=True),
        sa.Column("message_ids", sa.Text(), nullable=True),
        sa.Column("remote_url", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("telegram_posts")
