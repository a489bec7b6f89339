"""instagram_containers.failed_attempt: the attempt whose container ended in ERROR

A container that ended in ERROR is spent: a redelivery of that attempt reads
it again (and fails the same way), a later attempt (the client's Retry) makes
a new one. Rows from before carry none.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instagram_containers") as batch:
        batch.add_column(sa.Column("failed_attempt", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instagram_containers") as batch:
        batch.drop_column("failed_attempt")
