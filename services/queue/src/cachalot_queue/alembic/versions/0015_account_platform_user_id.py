"""account platform_user_id: the person's id on the platform

auth's ``accounts.v1`` carries it (issue 10): ``POST /api/v1/posts`` takes a
positive VK ``owner_id`` only when it is the account's own id. NULL: not known
(every positive ``owner_id`` is refused; leaving it out posts to the same wall).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 06:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column(
                "platform_user_id",
                sa.String(length=64),
                nullable=True,
                comment="The person's id on the platform (None: not known)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("platform_user_id")
