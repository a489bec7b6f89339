"""telegram_chat_waits: a chat's flood wait, kept where every replica reads it

A 429's ``retry_after`` holds the chat (Bot API FAQ); held in one process's memory it
left a second replica free to call the chat during the wait, and Telegram lengthens a
wait that is ignored (issue 11). The table is ``cachalot_common.chat_waits``'s.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:40:00
"""

from __future__ import annotations

from alembic import op

from cachalot_common.chat_waits import CHAT_WAITS_TABLE, chat_wait_columns

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(CHAT_WAITS_TABLE, *chat_wait_columns())


def downgrade() -> None:
    op.drop_table(CHAT_WAITS_TABLE)
