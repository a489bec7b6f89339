"""media.uploaded_by: the operator who uploaded a file into a client's library

A refused operator delivery (422 on ``POST /api/v1/operator/deliveries``) deletes the
files it named that nothing uses (:meth:`DeliveryService.discard_refused`); only files
that operator uploaded (``POST /api/v1/operator/media``) may go, never the client's own.
Rows from before hold NULL: nobody's delivery deletes them.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.add_column(
            sa.Column(
                "uploaded_by",
                sa.Uuid(),
                nullable=True,
                comment="operator id of POST /api/v1/operator/media (NULL: the client's own upload)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("media") as batch:
        batch.drop_column("uploaded_by")
