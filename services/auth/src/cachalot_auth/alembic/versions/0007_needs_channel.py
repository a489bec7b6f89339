"""needs_channel: a Telegram account whose channel is the problem gets its own status

Rows stored before (a broken link kept as ``reauth_required``; no channel linked kept as
``ok``) move to ``needs_channel``; the sign-in of those accounts was never the problem.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 03:10:00.000000

"""

from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: Union[str, Sequence[str], None] = "0006"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade data: Telegram accounts with a channel problem are ``needs_channel``."""
    op.execute(
        "UPDATE accounts SET status = 'needs_channel' WHERE platform = 'telegram' AND "
        "(status = 'reauth_required' OR (status = 'ok' AND channel_id IS NULL))"
    )


def downgrade() -> None:
    """Downgrade data: back to the statuses the older code knew."""
    op.execute(
        "UPDATE accounts SET status = CASE WHEN channel_id IS NULL THEN 'ok' "
        "ELSE 'reauth_required' END WHERE status = 'needs_channel'"
    )
