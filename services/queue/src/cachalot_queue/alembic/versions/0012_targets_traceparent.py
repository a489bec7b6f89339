"""targets keep the traceparent of the request that queued them

The scheduler dispatches outside any request; with the queuing request's W3C
``traceparent`` on the target, the dispatch span continues that trace, so one
trace covers the dashboard's request to the published post (issue 13 item 4).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.add_column(
            sa.Column(
                "traceparent",
                sa.String(55),
                nullable=True,
                comment="W3C traceparent of the request that queued it",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.drop_column("traceparent")
