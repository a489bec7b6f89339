"""targets.article_title: an article's title on each of its targets

A failed or unconfirmed target's status event names the post by its first words
(``PostStatusChanged.text_start``); an article has them in its title, on the post row,
which the code announcing a change does not load. Each target keeps its article's title
(the title cannot be edited), so the event says "Your post “<title>” … failed".
Existing rows take their post's title.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 18:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.add_column(
            sa.Column(
                "article_title",
                sa.String(256),
                nullable=True,
                comment="an article's title (its post's): the words its events name",
            )
        )
    op.execute(
        "UPDATE targets SET article_title = "
        "(SELECT posts.article_title FROM posts WHERE posts.id = targets.post_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("targets") as batch:
        batch.drop_column("article_title")
