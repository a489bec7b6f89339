"""token version: a counter of an account's stored tokens, carried by each lease

Bumped on every store of the account's tokens (sign-in, reconnect, refresh). A lease
carries it and a publisher's "refused even after a refresh" report names it, so auth
ignores a report on a token the client has since replaced by reconnecting. A counter,
never the token or a hash of it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 18:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0013'
down_revision: Union[str, Sequence[str], None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('token_version', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('token_version')
