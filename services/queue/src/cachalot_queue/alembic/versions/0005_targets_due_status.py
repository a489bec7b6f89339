"""ix_targets_due on (status, due_at): SQLite chooses it without statistics (issue 9)

Still partial (scheduled targets only). With ``status`` leading, SQLite's
planner prefers it over ix_targets_status_activity even before any ANALYZE,
instead of sorting every scheduled target on each scheduler tick.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SCHEDULED = sa.text("status = 'scheduled'")


def upgrade() -> None:
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_index('ix_targets_due', postgresql_where=SCHEDULED, sqlite_where=SCHEDULED)
        batch_op.create_index('ix_targets_due', ['status', 'due_at'], unique=False, postgresql_where=SCHEDULED, sqlite_where=SCHEDULED)


def downgrade() -> None:
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_index('ix_targets_due', postgresql_where=SCHEDULED, sqlite_where=SCHEDULED)
        batch_op.create_index('ix_targets_due', ['due_at'], unique=False, postgresql_where=SCHEDULED, sqlite_where=SCHEDULED)
