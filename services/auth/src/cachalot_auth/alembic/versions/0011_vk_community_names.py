"""vk community names: each community an account administers with its name and screen name

The ids-only text column ``communities`` becomes the JSON column ``vk_communities``
(``[{"id", "name", "screen_name"}]``, as VK's groups.get extended=1 gives them), so the
dashboard shows "name (id)" (issue 10). Rows stored before keep their ids, without names
until the account is connected again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 11:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '0011'
down_revision: Union[str, Sequence[str], None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_accounts = sa.table(
    'accounts',
    sa.column('id', sa.String),
    sa.column('communities', sa.Text),
    sa.column('vk_communities', sa.JSON(none_as_null=True)),
)


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vk_communities', sa.JSON(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_accounts.c.id, _accounts.c.communities).where(
            _accounts.c.communities.is_not(None)
        )
    ).all()
    for account_id, ids in rows:
        listed = [
            {'id': int(i), 'name': None, 'screen_name': None} for i in ids.split(' ') if i
        ]
        bind.execute(
            _accounts.update()
            .where(_accounts.c.id == account_id)
            .values(vk_communities=listed)
        )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('communities')


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('communities', sa.Text(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_accounts.c.id, _accounts.c.vk_communities).where(
            _accounts.c.vk_communities.is_not(None)
        )
    ).all()
    for account_id, listed in rows:
        if listed is None:
            continue
        bind.execute(
            _accounts.update()
            .where(_accounts.c.id == account_id)
            .values(communities=' '.join(str(c['id']) for c in listed))
        )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('vk_communities')
