"""email_notices and notice_opt_outs: e-mail to clients, recorded before it is sent

The Kafka handler records a notice (unique dedupe_key: the claim across
replicas and redeliveries) and the mail sender sends it over SMTP;
notice_opt_outs holds the clients who switched notices off (RFC 8058).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_notices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("dedupe_key", sa.String(200), nullable=False, unique=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.Float(), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=True),
        sa.Column("claimed_until", sa.Float(), nullable=True),
        sa.Column("last_error", sa.String(300), nullable=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_email_notices_state_not_before", "email_notices", ["state", "not_before"])
    op.create_table(
        "notice_opt_outs",
        sa.Column("client_id", sa.Uuid(), primary_key=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notice_opt_outs")
    op.drop_index("ix_email_notices_state_not_before", table_name="email_notices")
    op.drop_table("email_notices")
