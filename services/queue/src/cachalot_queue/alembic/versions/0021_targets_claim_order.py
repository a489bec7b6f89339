"""targets.created_at, and ix_targets_due on (status, due_at, created_at, id)

When a platform's quota window frees (Instagram's content_publishing_limit, YouTube's
quota), an account's waiting posts share one due time. The claim now orders them by
their post's creation (then id) explicitly, read in index order on SQLite and
PostgreSQL; before, ties came in whatever order the index held them (issue 10).
Existing rows take their post's ``created_at``.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 18:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

SCHEDULED = sa.text("status = 'scheduled'")
COMMENT = "when its post was queued (its post's created_at): claim order among equal due_at"


def upgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE targets SET created_at = "
        "(SELECT posts.created_at FROM posts WHERE posts.id = targets.post_id)"
    )
    with op.batch_alter_table("targets") as batch:
        batch.alter_column(
            "created_at",
            existing_type=sa.DateTime(timezone=True),
            nullable=False,
            comment=COMMENT,
        )
        batch.drop_index("ix_targets_due", postgresql_where=SCHEDULED, sqlite_where=SCHEDULED)
        batch.create_index(
            "ix_targets_due",
            ["status", "due_at", "created_at", "id"],
            unique=False,
            postgresql_where=SCHEDULED,
            sqlite_where=SCHEDULED,
        )


def downgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.drop_index("ix_targets_due", postgresql_where=SCHEDULED, sqlite_where=SCHEDULED)
        batch.create_index(
            "ix_targets_due",
            ["status", "due_at"],
            unique=False,
            postgresql_where=SCHEDULED,
            sqlite_where=SCHEDULED,
        )
        batch.drop_column("created_at")
