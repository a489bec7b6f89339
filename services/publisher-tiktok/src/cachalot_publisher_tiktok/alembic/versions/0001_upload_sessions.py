"""upload sessions

Revision ID: 0001
Revises:
Create Date: 2026-11-29

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tiktok_upload_sessions",
        sa.Column("publish_id", sa.String(64), primary_key=True),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("upload_url", sa.Text(), nullable=False),
        sa.Column("upload_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("video_size", sa.BigInteger(), nullable=False),
        sa.Column("chunk_size", sa.BigInteger(), nullable=False),
        sa.Column("total_chunk_count", sa.Integer(), nullable=False),
        sa.Column("creator_username", sa.String(128), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("remote_id", sa.String(64), nullable=True),
        sa.Column("remote_url", sa.Text(), nullable=True),
        sa.Column("fail_code", sa.String(64), nullable=True),
        sa.Column("fail_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )
    op.create_index(
        "ix_tiktok_upload_sessions_target_id", "tiktok_upload_sessions", ["target_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_tiktok_upload_sessions_target_id", "tiktok_upload_sessions")
    op.drop_table("tiktok_upload_sessions")
