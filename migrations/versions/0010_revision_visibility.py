"""Revision visibility and the top-posts keyset index.

`post_revisions.hidden`: a text replaced while its post was hidden stays restricted (author and moderators)
after the post is unhidden. `ix_posts_thread_top` is rebuilt on `-(agree_count + insightful_count)` so the
"top" sort's keyset `(-score, seq) > (...)` is one index range.

Revision ID: 0010_revision_visibility
Revises: 0009_housekeeping
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_revision_visibility"
down_revision: str | None = "0009_housekeeping"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("post_revisions", sa.Column("hidden", sa.Boolean(), server_default="false", nullable=False))
    op.drop_index(op.f("ix_posts_thread_top"), table_name="posts", postgresql_where=sa.text("parent_id IS NULL"))
    op.create_index(
        op.f("ix_posts_thread_top"),
        "posts",
        ["thread_id", sa.text("(-(agree_count + insightful_count))"), "seq"],
        postgresql_where=sa.text("parent_id IS NULL"),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_posts_thread_top"), table_name="posts", postgresql_where=sa.text("parent_id IS NULL"))
    op.create_index(
        op.f("ix_posts_thread_top"),
        "posts",
        ["thread_id", sa.text("(agree_count + insightful_count) DESC"), "seq"],
        postgresql_where=sa.text("parent_id IS NULL"),
    )
    op.drop_column("post_revisions", "hidden")
