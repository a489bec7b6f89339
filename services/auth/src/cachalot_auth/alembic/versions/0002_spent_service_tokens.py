"""spent service tokens: each service JWT's jti, remembered until it expires (single use)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:50:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('spent_service_tokens',
    sa.Column('token_id', sa.String(length=64), nullable=False),
    sa.Column('service', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('token_id')
    )
    with op.batch_alter_table('spent_service_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_spent_service_tokens_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('spent_service_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_spent_service_tokens_expires_at'))
    op.drop_table('spent_service_tokens')
