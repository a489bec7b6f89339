"""audit actor_name: an operator's Telegram name beside their acts

Auth puts the operator's Telegram name (first and last name, else @username) in their
session (issue 13); the queue records it with each act it audits, so the trail, the
deliveries and the console show a name, not an id prefix. NULL: not known (entries
recorded before, clients' and the queue's own).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.add_column(
            sa.Column(
                "actor_name",
                sa.String(length=200),
                nullable=True,
                comment="An operator's Telegram name at the act (None: not known)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_entries") as batch:
        batch.drop_column("actor_name")
