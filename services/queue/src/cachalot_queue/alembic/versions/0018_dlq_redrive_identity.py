"""dlq_redrives.record_digest: a re-drive names its record by identity, not only position

A broker that restarted empty (Tansu keeps nothing) writes new dead letters at the
offsets of the old ones, which showed as "already re-driven" (409 on re-drive). The
record's digest (:func:`cachalot_common.dead_letters.record_digest`: timestamp, key,
value, headers) joins the unique key. Rows from before hold '' and match no record:
their record's identity was not kept.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_POSITION = ["dlq_topic", "dlq_partition", "dlq_offset"]


def upgrade() -> None:
    with op.batch_alter_table("dlq_redrives") as batch:
        batch.add_column(
            sa.Column(
                "record_digest",
                sa.String(length=64),
                nullable=False,
                server_default="",
                comment="SHA-256 of the record's timestamp, key, value, headers ('': before 0018)",
            )
        )
        batch.drop_constraint("uq_dlq_redrives_record", type_="unique")
        batch.create_unique_constraint("uq_dlq_redrives_record", [*_POSITION, "record_digest"])
    with op.batch_alter_table("dlq_redrives") as batch:
        batch.alter_column("record_digest", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("dlq_redrives") as batch:
        batch.drop_constraint("uq_dlq_redrives_record", type_="unique")
        batch.drop_column("record_digest")
    # rows of one position re-driven in two broker lives: keep the first
    op.execute(
        "DELETE FROM dlq_redrives WHERE id NOT IN "
        "(SELECT MIN(id) FROM dlq_redrives GROUP BY dlq_topic, dlq_partition, dlq_offset)"
    )
    with op.batch_alter_table("dlq_redrives") as batch:
        batch.create_unique_constraint("uq_dlq_redrives_record", _POSITION)
