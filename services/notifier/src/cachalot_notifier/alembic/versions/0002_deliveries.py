"""deliveries and chat_migrations: the claimed-before-sent queue the sender drains

The Kafka handler records a delivery (unique dedupe_key: the atomic claim
across replicas) and the background sender sends it; chat_migrations keeps
what Telegram's ``migrate_to_chat_id`` said. Rows of sent_notifications
become sent deliveries, so redeliveries of old events still send nothing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    deliveries = op.create_table(
        "deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False, unique=True),
        sa.Column("source_topic", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("lane", sa.String(length=300), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("parse_mode", sa.String(length=20), nullable=True),
        sa.Column("plain_text", sa.Text(), nullable=False),
        sa.Column("event_key", sa.String(length=300), nullable=False),
        sa.Column("event_json", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.Float(), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.Float(), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("telegram_chat_id", sa.String(length=64), nullable=True),
    )
    op.create_index("ix_deliveries_state_lane_id", "deliveries", ["state", "lane", "id"])
    op.create_table(
        "chat_migrations",
        sa.Column("old_chat_id", sa.String(length=64), primary_key=True),
        sa.Column("new_chat_id", sa.String(length=64), nullable=False),
        sa.Column("migrated_at", sa.DateTime(timezone=True), nullable=False),
    )
    sent = sa.table(
        "sent_notifications",
        sa.column("dedupe_key", sa.String),
        sa.column("source_topic", sa.String),
        sa.column("event_id", sa.Uuid),
        sa.column("channel", sa.String),
        sa.column("sent_at", sa.DateTime(timezone=True)),
        sa.column("telegram_message_id", sa.BigInteger),
    )
    op.execute(
        deliveries.insert().from_select(
            [
                "dedupe_key", "source_topic", "event_id", "channel", "lane", "chat_id", "text",
                "parse_mode", "plain_text", "event_key", "event_json", "state", "attempts",
                "not_before", "created_at", "sent_at", "telegram_message_id",
            ],
            sa.select(
                sent.c.dedupe_key, sent.c.source_topic, sent.c.event_id, sent.c.channel,
                sent.c.source_topic, sa.literal(""), sa.literal(""), sa.null(), sa.literal(""),
                sa.literal(""), sa.literal(""), sa.literal("sent"), sa.literal(1),
                sa.literal(0.0), sent.c.sent_at, sent.c.sent_at, sent.c.telegram_message_id,
            ),
        )
    )  # fmt: skip
    op.drop_table("sent_notifications")


def downgrade() -> None:
    op.create_table(
        "sent_notifications",
        sa.Column("dedupe_key", sa.String(length=200), primary_key=True),
        sa.Column("source_topic", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
    )
    op.execute(
        "INSERT INTO sent_notifications (dedupe_key, source_topic, event_id, channel, sent_at,"
        " telegram_message_id) SELECT dedupe_key, source_topic, event_id, channel, sent_at,"
        " telegram_message_id FROM deliveries WHERE state = 'sent'"
    )
    op.drop_table("chat_migrations")
    op.drop_index("ix_deliveries_state_lane_id", table_name="deliveries")
    op.drop_table("deliveries")
