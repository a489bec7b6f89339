"""targets.account_name: the account's name as the client knew it when it queued the post

A failed or unconfirmed target's status event names the account (``PostStatusChanged.
account_name``), so the client's e-mail and the operator's message say which of the
client's accounts it was, not only the platform (issue 12, fresh12). Rows from before
hold NULL: their events name the platform alone.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.add_column(
            sa.Column(
                "account_name",
                sa.String(200),
                nullable=True,
                comment="the account's display name when the post was queued",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.drop_column("account_name")
