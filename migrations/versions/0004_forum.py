"""Forum: thematic lines, sublines, sessions, membership, threads.

Revision ID: 0004_forum
Revises: 0003_accounts
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_forum"
down_revision: str | None = "0003_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "thematic_lines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_thematic_lines")),
        sa.UniqueConstraint("number", name=op.f("uq_thematic_lines_number")),
    )
    op.create_table(
        "sublines",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("line_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["thematic_lines.id"], name=op.f("fk_sublines_line_id_thematic_lines"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sublines")),
        sa.UniqueConstraint("line_id", "number", name=op.f("uq_sublines_line_id_number")),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("subline_id", sa.Uuid(), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=100), nullable=False),
        sa.Column("meeting_url", sa.String(length=2000), nullable=True),
        sa.Column("discussion_open", sa.Boolean(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "category IN ('round_table', 'workshop', 'plenary', 'other')", name=op.f("ck_sessions_category")
        ),
        sa.CheckConstraint("duration_minutes > 0", name=op.f("ck_sessions_duration_minutes")),
        sa.ForeignKeyConstraint(
            ["subline_id"], ["sublines.id"], name=op.f("fk_sessions_subline_id_sublines"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions")),
        sa.UniqueConstraint("code", name=op.f("uq_sessions_code")),
    )
    op.create_index(op.f("ix_sessions_subline_id"), "sessions", ["subline_id"])
    op.create_index(op.f("ix_sessions_starts_at"), "sessions", ["starts_at"])
    op.create_table(
        "session_members",
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("role IN ('moderator', 'participant')", name=op.f("ck_session_members_role")),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_session_members_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_session_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("session_id", "user_id", name=op.f("pk_session_members")),
    )
    op.create_index(op.f("ix_session_members_user_id"), "session_members", ["user_id"])
    op.create_table(
        "threads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_threads_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threads")),
    )
    op.create_index(op.f("ix_threads_session_id"), "threads", ["session_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_threads_session_id"), table_name="threads")
    op.drop_table("threads")
    op.drop_index(op.f("ix_session_members_user_id"), table_name="session_members")
    op.drop_table("session_members")
    op.drop_index(op.f("ix_sessions_starts_at"), table_name="sessions")
    op.drop_index(op.f("ix_sessions_subline_id"), table_name="sessions")
    op.drop_table("sessions")
    op.drop_table("sublines")
    op.drop_table("thematic_lines")
