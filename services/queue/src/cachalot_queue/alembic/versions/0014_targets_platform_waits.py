"""targets count the platform's waits apart from attempts

A platform-requested wait (429 with ``retry_after``, the publisher's hand-back of a long one)
no longer uses the attempt budget (issue 11): ``waits`` counts them in the current budget and
``budget_started_at`` (its first dispatch) bounds them by a total deadline instead
(``CACHALOT_PLATFORM_WAIT_DEADLINE_S``).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.add_column(
            sa.Column(
                "waits",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="platform-requested waits in this budget (not attempts)",
            )
        )
        batch.add_column(
            sa.Column(
                "budget_started_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="first dispatch of this budget",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.drop_column("budget_started_at")
        batch.drop_column("waits")
