"""youtube_uploads: when the chunk that makes the video went out, and an unknown outcome said

A token without a reading scope cannot look the channel's uploads up: a target whose
last chunk went out but whose video id was never recorded (the process died, the session
expired since) may be on the channel. It now ends ``unknown`` (the client checks) instead
of being uploaded a second time (issue 11 item 8, fresh11k).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 14:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("youtube_uploads") as table:
        table.add_column(sa.Column("last_chunk_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("unknown_reported_attempt", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("youtube_uploads") as table:
        table.drop_column("unknown_reported_attempt")
        table.drop_column("last_chunk_at")
