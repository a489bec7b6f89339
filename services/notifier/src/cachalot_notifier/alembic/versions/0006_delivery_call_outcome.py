"""deliveries.call_started_at, deliveries.possibly_sent: a call whose outcome is unknown

A notifier killed between Telegram's 200 and writing the message id left a row that was
sent again as if new: the operator got a contact submission twice, with nothing saying
so (issue 11). The time a call began is kept until its answer is read; a row taken with
it still set is marked possibly sent, and is sent with a visible notice.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("call_started_at", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("possibly_sent", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("possibly_sent")
        batch.drop_column("call_started_at")
