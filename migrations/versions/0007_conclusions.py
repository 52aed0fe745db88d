"""Draft conclusions: versions, voting windows, votes.

Revision ID: 0007_conclusions
Revises: 0006_threads
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007_conclusions"
down_revision: str | None = "0006_threads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "conclusions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("thread_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_by", sa.Uuid(), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("results_visibility", sa.String(length=16), nullable=False),
        sa.Column("quorum", sa.Integer(), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Uuid(), nullable=True),
        sa.Column("final_tally", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.CheckConstraint("status IN ('draft', 'voting', 'adopted', 'rejected')", name=op.f("ck_conclusions_status")),
        sa.CheckConstraint(
            "results_visibility IN ('live', 'after_close')", name=op.f("ck_conclusions_results_visibility")
        ),
        sa.CheckConstraint("quorum IS NULL OR quorum >= 1", name=op.f("ck_conclusions_quorum")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_conclusions_version")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_conclusions_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.id"], name=op.f("fk_conclusions_thread_id_threads"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_conclusions_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["users.id"], name=op.f("fk_conclusions_opened_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["closed_by"], ["users.id"], name=op.f("fk_conclusions_closed_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conclusions")),
    )
    op.create_index(op.f("ix_conclusions_thread_id"), "conclusions", ["thread_id"])
    op.create_index(op.f("ix_conclusions_session_order"), "conclusions", ["session_id", "created_at", "id"])
    op.create_index(
        op.f("ix_conclusions_due"),
        "conclusions",
        ["closes_at"],
        postgresql_where=sa.text("status = 'voting' AND closes_at IS NOT NULL"),
    )

    op.create_table(
        "conclusion_versions",
        sa.Column("conclusion_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conclusion_id"],
            ["conclusions.id"],
            name=op.f("fk_conclusion_versions_conclusion_id_conclusions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_conclusion_versions_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("conclusion_id", "version", name=op.f("pk_conclusion_versions")),
    )

    op.create_table(
        "conclusion_sources",
        sa.Column("conclusion_id", sa.Uuid(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conclusion_id"],
            ["conclusions.id"],
            name=op.f("fk_conclusion_sources_conclusion_id_conclusions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_conclusion_sources_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("conclusion_id", "post_id", name=op.f("pk_conclusion_sources")),
    )
    op.create_index(op.f("ix_conclusion_sources_post_id"), "conclusion_sources", ["post_id"])

    op.create_table(
        "conclusion_votes",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("conclusion_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("choice", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actor_type", sa.String(length=32), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("cast_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("choice IN ('support', 'oppose', 'abstain')", name=op.f("ck_conclusion_votes_choice")),
        sa.ForeignKeyConstraint(
            ["conclusion_id"],
            ["conclusions.id"],
            name=op.f("fk_conclusion_votes_conclusion_id_conclusions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_conclusion_votes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conclusion_votes")),
        sa.UniqueConstraint("conclusion_id", "user_id", name=op.f("uq_conclusion_votes_conclusion_id_user_id")),
    )
    op.create_index(op.f("ix_conclusion_votes_user_id"), "conclusion_votes", ["user_id"])

    op.create_table(
        "conclusion_tally_marks",
        sa.Column("conclusion_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("dirty", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("emitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["conclusion_id"],
            ["conclusions.id"],
            name=op.f("fk_conclusion_tally_marks_conclusion_id_conclusions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name=op.f("fk_conclusion_tally_marks_session_id_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conclusion_id", name=op.f("pk_conclusion_tally_marks")),
    )
    op.create_index(
        op.f("ix_conclusion_tally_marks_dirty"),
        "conclusion_tally_marks",
        ["emitted_at"],
        postgresql_where=sa.text("dirty"),
    )


def downgrade() -> None:
    op.drop_table("conclusion_tally_marks")
    op.drop_table("conclusion_votes")
    op.drop_table("conclusion_sources")
    op.drop_table("conclusion_versions")
    op.drop_table("conclusions")
