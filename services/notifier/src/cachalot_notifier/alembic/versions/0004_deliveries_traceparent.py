"""deliveries keep the traceparent of the event that asked for them

The background sender calls Telegram outside the Kafka handler; with the
handler's W3C ``traceparent`` on the row, that call joins the event's trace
(one trace from the dashboard's request to the operator's message, issue 13
item 4).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 03:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("traceparent")
