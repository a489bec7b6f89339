"""operator console: a target's trace id (recorded at dispatch) and the DLQ re-drive audit

``targets.trace_id``: the W3C trace id of the target's latest dispatch, so the
operator console links a failed, paused or stuck target to its trace.
``dlq_redrives``: every message an operator sent back from ``<topic>.dlq`` to
its topic (who, when, which record); a record is re-driven once.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "trace_id",
                sa.String(length=32),
                nullable=True,
                comment="W3C trace id of the latest dispatch",
            )
        )
    op.create_table(
        "dlq_redrives",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("dlq_topic", sa.String(length=200), nullable=False),
        sa.Column("dlq_partition", sa.Integer(), nullable=False),
        sa.Column("dlq_offset", sa.BigInteger(), nullable=False),
        sa.Column("source_topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("operator_id", sa.Uuid(), nullable=False),
        sa.Column("redriven_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "dlq_topic", "dlq_partition", "dlq_offset", name="uq_dlq_redrives_record"
        ),
    )


def downgrade() -> None:
    op.drop_table("dlq_redrives")
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_column("trace_id")
