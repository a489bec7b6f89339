"""session_revocations: auth's sessions.v1 events, kept until the sessions expire

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 10:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('session_revocations',
    sa.Column('event_id', sa.Uuid(), nullable=False, comment='dedupe key'),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('client_id', sa.Uuid(), nullable=False),
    sa.Column('session_id', sa.String(length=64), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False, comment='kept until then'),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('session_revocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_revocations_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_revocations_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('session_revocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_revocations_expires_at'))
        batch_op.drop_index(batch_op.f('ix_session_revocations_client_id'))
    op.drop_table('session_revocations')
