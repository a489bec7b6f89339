"""telegram_posts.telegraph_made_from: what the recorded Telegraph page was made for

A page kept across attempts was announced whatever the attempt's content: an article the
client changed after a failed attempt went out announcing its new title with a link to
the old page (issue 10). A page is now reused only for the content it was made from
(``PublishPost.made_from``); rows from before carry none, and their page is made again
on a later attempt (a page, never announced, is harmless: Telegraph's pages are unlisted).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("telegram_posts") as batch:
        batch.add_column(sa.Column("telegraph_made_from", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("telegram_posts") as batch:
        batch.drop_column("telegraph_made_from")
