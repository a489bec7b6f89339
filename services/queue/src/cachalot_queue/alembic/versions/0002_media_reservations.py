"""media_reservations: bytes held for uploads in progress (per-client media quota)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_reservations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("media_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_media_reservations_client_id"), ["client_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("media_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_reservations_client_id"))
    op.drop_table("media_reservations")
