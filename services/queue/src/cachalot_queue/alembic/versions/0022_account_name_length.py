"""account names up to ACCOUNT_NAME_MAX_CHARS (256), as auth keeps them

``accounts.display_name`` and ``targets.account_name`` held 200 characters while auth
keeps 256: a longer name from accounts.v1 could not be stored on PostgreSQL. One constant,
``cachalot_common.events.ACCOUNT_NAME_MAX_CHARS``, now sizes both sides.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 18:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TARGET_COMMENT = "the account's display name when the post was queued"


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column(
            "display_name",
            existing_type=sa.String(200),
            type_=sa.String(256),
            existing_nullable=True,
        )
    with op.batch_alter_table("targets") as batch:
        batch.alter_column(
            "account_name",
            existing_type=sa.String(200),
            type_=sa.String(256),
            existing_nullable=True,
            existing_comment=TARGET_COMMENT,
        )


def downgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.alter_column(
            "account_name",
            existing_type=sa.String(256),
            type_=sa.String(200),
            existing_nullable=True,
            existing_comment=TARGET_COMMENT,
        )
    with op.batch_alter_table("accounts") as batch:
        batch.alter_column(
            "display_name",
            existing_type=sa.String(256),
            type_=sa.String(200),
            existing_nullable=True,
        )
