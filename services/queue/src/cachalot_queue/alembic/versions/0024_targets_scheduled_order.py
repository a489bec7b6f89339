"""targets.scheduled_at and targets.platform_wait: an account's posts keep their scheduled order

Two faults of per-account order (issue 9, fresh17):

* posts an account's rate-limit window held came back in the order they were *queued*
  (``ix_targets_due`` tied on ``created_at``), not the order they were *scheduled* for: the
  tie now breaks on the post's publish time first (``scheduled_at``, a copy on each target,
  kept in step when the client moves the post), then its creation, then id;
* a post scheduled later could take the slot freed just before an earlier post's platform
  wait ended (the wait is read to the whole second): a target whose due time ends a
  platform-requested wait is marked (``platform_wait``) and the claim holds the account's
  later targets behind it, found through the small partial index
  ``ix_targets_platform_wait`` (only targets waiting on a platform right now).

Existing rows take their post's ``scheduled_at``; none is marked as waiting (a wait under
way when this runs holds nothing behind it; it still ends as before).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-03 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

SCHEDULED = sa.text("status = 'scheduled'")
WAITING_PG = sa.text("status = 'scheduled' AND platform_wait")
WAITING_SQLITE = sa.text("status = 'scheduled' AND platform_wait = 1")


def upgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.add_column(sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column(
                "platform_wait",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="due_at ends a platform-requested wait: the account's later targets "
                "are held behind it",
            )
        )
    op.execute(
        "UPDATE targets SET scheduled_at = "
        "(SELECT posts.scheduled_at FROM posts WHERE posts.id = targets.post_id)"
    )
    with op.batch_alter_table("targets") as batch:
        batch.alter_column(
            "scheduled_at",
            existing_type=sa.DateTime(timezone=True),
            nullable=False,
            comment="its post's publish time: claim order among equal due_at",
        )
        batch.drop_index("ix_targets_due", postgresql_where=SCHEDULED, sqlite_where=SCHEDULED)
        batch.create_index(
            "ix_targets_due",
            ["status", "due_at", "scheduled_at", "created_at", "id"],
            unique=False,
            postgresql_where=SCHEDULED,
            sqlite_where=SCHEDULED,
        )
        batch.create_index(
            "ix_targets_platform_wait",
            ["status", "platform_wait", "account_id"],
            unique=False,
            postgresql_where=WAITING_PG,
            sqlite_where=WAITING_SQLITE,
        )


def downgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.drop_index(
            "ix_targets_platform_wait", postgresql_where=WAITING_PG, sqlite_where=WAITING_SQLITE
        )
        batch.drop_index("ix_targets_due", postgresql_where=SCHEDULED, sqlite_where=SCHEDULED)
        batch.create_index(
            "ix_targets_due",
            ["status", "due_at", "created_at", "id"],
            unique=False,
            postgresql_where=SCHEDULED,
            sqlite_where=SCHEDULED,
        )
        batch.drop_column("platform_wait")
        batch.drop_column("scheduled_at")
