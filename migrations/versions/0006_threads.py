"""Threads and posts: reply trees, revisions, reactions, flags, moderation.

Revision ID: 0006_threads
Revises: 0005_session_events
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_threads"
down_revision: str | None = "0005_session_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("threads", sa.Column("locked", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("threads", sa.Column("pinned", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("threads", sa.Column("post_count", sa.Integer(), server_default="0", nullable=False))
    op.add_column("threads", sa.Column("created_by", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_threads_created_by_users"), "threads", "users", ["created_by"], ["id"], ondelete="SET NULL"
    )

    op.create_table(
        "posts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("root_id", sa.Uuid(), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_by", sa.Uuid(), nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=True),
        sa.Column("hidden_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_by", sa.Uuid(), nullable=True),
        sa.Column("agree_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("disagree_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("insightful_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reply_count", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("depth >= 0", name=op.f("ck_posts_depth")),
        sa.CheckConstraint("(parent_id IS NULL) = (depth = 0)", name=op.f("ck_posts_parent_depth")),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.id"], name=op.f("fk_posts_thread_id_threads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_posts_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["posts.id"], name=op.f("fk_posts_parent_id_posts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["root_id"], ["posts.id"], name=op.f("fk_posts_root_id_posts"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_posts_author_id_users")),
        sa.ForeignKeyConstraint(["deleted_by"], ["users.id"], name=op.f("fk_posts_deleted_by_users")),
        sa.ForeignKeyConstraint(["hidden_by"], ["users.id"], name=op.f("fk_posts_hidden_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
        sa.UniqueConstraint("seq", name=op.f("uq_posts_seq")),
    )
    op.create_index(op.f("ix_posts_session_id"), "posts", ["session_id"])
    op.create_index(op.f("ix_posts_parent_id"), "posts", ["parent_id"])
    op.create_index(op.f("ix_posts_root_id"), "posts", ["root_id"])
    op.create_index(op.f("ix_posts_author_id"), "posts", ["author_id"])
    op.create_index(
        op.f("ix_posts_thread_roots"), "posts", ["thread_id", "seq"], postgresql_where=sa.text("parent_id IS NULL")
    )
    op.create_index(
        op.f("ix_posts_thread_top"),
        "posts",
        ["thread_id", sa.text("(agree_count + insightful_count) DESC"), "seq"],
        postgresql_where=sa.text("parent_id IS NULL"),
    )

    op.create_table(
        "post_revisions",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_revisions_post_id_posts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_revisions")),
    )
    op.create_index(op.f("ix_post_revisions_post_id"), "post_revisions", ["post_id"])

    op.create_table(
        "post_reactions",
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('agree', 'disagree', 'insightful')", name=op.f("ck_post_reactions_kind")),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_reactions_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_post_reactions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "user_id", "kind", name=op.f("pk_post_reactions")),
    )

    op.create_table(
        "post_flags",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("post_id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Uuid(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.CheckConstraint("reason IN ('spam', 'offensive', 'off_topic', 'other')", name=op.f("ck_post_flags_reason")),
        sa.CheckConstraint(
            "status IN ('open', 'dismissed', 'post_hidden', 'post_deleted')", name=op.f("ck_post_flags_status")
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name=op.f("fk_post_flags_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_post_flags_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_post_flags_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"], name=op.f("fk_post_flags_resolved_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_flags")),
    )
    op.create_index(op.f("ix_post_flags_post_id"), "post_flags", ["post_id"])
    op.create_index(
        op.f("uq_post_flags_open_post_id_user_id"),
        "post_flags",
        ["post_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        op.f("ix_post_flags_open_queue"),
        "post_flags",
        ["session_id", "created_at", "id"],
        postgresql_where=sa.text("status = 'open'"),
    )


def downgrade() -> None:
    op.drop_table("post_flags")
    op.drop_table("post_reactions")
    op.drop_table("post_revisions")
    op.drop_table("posts")
    op.drop_constraint(op.f("fk_threads_created_by_users"), "threads", type_="foreignkey")
    op.drop_column("threads", "created_by")
    op.drop_column("threads", "post_count")
    op.drop_column("threads", "pinned")
    op.drop_column("threads", "locked")
