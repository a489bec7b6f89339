"""audit entries indexed by time, for their retention

The retention job (``CACHALOT_AUDIT_RETENTION_DAYS``, issue 13 item 2) deletes
entries older than a cutoff every hour; the index keeps that from reading the
whole table.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 06:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_at", "audit_entries", ["at"])


def downgrade() -> None:
    op.drop_index("ix_audit_at", table_name="audit_entries")
