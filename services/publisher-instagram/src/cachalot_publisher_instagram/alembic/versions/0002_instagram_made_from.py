"""instagram_containers.made_from: what the recorded containers were made for

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instagram_containers") as batch:
        batch.add_column(sa.Column("made_from", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instagram_containers") as batch:
        batch.drop_column("made_from")
