"""channel title: a Telegram account keeps its own name; its linked channel's title beside it

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 17:05:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('accounts') as batch:
        batch.add_column(sa.Column('channel_title', sa.String(length=256), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('accounts') as batch:
        batch.drop_column('channel_title')
