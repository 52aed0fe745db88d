"""`post_reaction_marks`: coalesced `reactions.updated` events (at most one per post per interval).

A reaction marks its post dirty in its own transaction instead of emitting an event; a loop in every instance
sends the post's counts as they are then and clears the mark (`threads.reactions.publish_due_reactions`).

Revision ID: 0019_reaction_marks
Revises: 0018_throttle_check
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_reaction_marks"
down_revision: str | None = "0018_throttle_check"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "post_reaction_marks",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("dirty", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("emitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_reaction_marks_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_post_reaction_marks_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_post_reaction_marks")),
    )
    op.create_index(
        op.f("ix_post_reaction_marks_dirty"), "post_reaction_marks", ["emitted_at"], postgresql_where=sa.text("dirty")
    )


def downgrade() -> None:
    op.drop_table("post_reaction_marks")
