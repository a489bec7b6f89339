"""account communities: the VK communities an account's person administers

auth's ``accounts.v1`` carries what VK's groups.get filter=admin said at the last
sign-in; ``POST /api/v1/posts`` refuses a VK ``owner_id`` of another community
(issue 10). NULL: not known (nothing is checked).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 03:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column(
                "communities",
                sa.JSON(),
                nullable=True,
                comment="VK: communities administered at the last sign-in (None: not known)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("communities")
