"""spent attempts: per target, the publish attempts that are over (their grants lease nothing)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 11:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('spent_attempts',
    sa.Column('target_id', sa.String(length=36), nullable=False),
    sa.Column('over_through', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('target_id')
    )
    with op.batch_alter_table('spent_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spent_attempts_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('spent_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spent_attempts_expires_at'))
    op.drop_table('spent_attempts')
