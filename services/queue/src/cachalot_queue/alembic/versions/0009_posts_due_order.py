"""posts listed by publish time: an index on (client_id, scheduled_at, id)

``GET /api/v1/posts?order=due`` pages a client's posts soonest first with a
keyset cursor on (scheduled_at, id); this index serves it (issue 12 defect 1).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 15:15:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_posts_client_scheduled", "posts", ["client_id", "scheduled_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_posts_client_scheduled", table_name="posts")
