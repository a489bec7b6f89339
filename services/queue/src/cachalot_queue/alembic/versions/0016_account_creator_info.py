"""account creator_info: what TikTok's creator_info said at auth's last read

auth's ``accounts.v1`` carries it (issue 13): ``POST /api/v1/posts`` (and a client's
approval of a proposal) refuses a privacy level the account does not offer, or an
interaction the creator turned off, naming ``targets[i].tiktok.<option>``. NULL: not
known (nothing checked when queued; publisher-tiktok still checks before it posts).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(
            sa.Column(
                "creator_info",
                sa.JSON(),
                nullable=True,
                comment="TikTok: creator_info at auth's last read (None: not known)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("creator_info")
