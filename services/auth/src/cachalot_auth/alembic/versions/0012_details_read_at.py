"""details read at: when an account's community names / channel title were last read

``POST /api/v1/accounts/{id}/details`` reads them again from the platform at most once a
minute per account (issue 10); the time of the last read is kept here, so every replica
holds the same bound.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 14:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0012'
down_revision: Union[str, Sequence[str], None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('details_read_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('details_read_at')
