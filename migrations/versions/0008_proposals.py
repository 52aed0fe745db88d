"""Final proposals, versions and endorsements.

Revision ID: 0008_proposals
Revises: 0007_conclusions
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_proposals"
down_revision: str | None = "0007_conclusions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("session_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.Uuid(), nullable=True),
        sa.Column("content_sha256", sa.String(length=64), nullable=True),
        sa.Column("endorsement_count", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("status IN ('draft', 'published')", name=op.f("ck_proposals_status")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_proposals_version")),
        sa.CheckConstraint("endorsement_count >= 0", name=op.f("ck_proposals_endorsement_count")),
        sa.CheckConstraint(
            "(status = 'published') = (published_at IS NOT NULL AND content_sha256 IS NOT NULL)",
            name=op.f("ck_proposals_published"),
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_proposals_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_proposals_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["published_by"], ["users.id"], name=op.f("fk_proposals_published_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposals")),
    )
    op.create_index(op.f("ix_proposals_session_order"), "proposals", ["session_id", "created_at", "id"])

    op.create_table(
        "proposal_versions",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.id"],
            name=op.f("fk_proposal_versions_proposal_id_proposals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_proposal_versions_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("proposal_id", "version", name=op.f("pk_proposal_versions")),
    )

    op.create_table(
        "proposal_conclusions",
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("conclusion_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id", "version"],
            ["proposal_versions.proposal_id", "proposal_versions.version"],
            name=op.f("fk_proposal_conclusions_proposal_id_proposal_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conclusion_id"], ["conclusions.id"], name=op.f("fk_proposal_conclusions_conclusion_id_conclusions")
        ),
        sa.PrimaryKeyConstraint("proposal_id", "version", "conclusion_id", name=op.f("pk_proposal_conclusions")),
    )
    op.create_index(op.f("ix_proposal_conclusions_conclusion_id"), "proposal_conclusions", ["conclusion_id"])

    op.create_table(
        "endorsements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("proposal_id", sa.Uuid(), nullable=False),
        sa.Column("representative_id", sa.Uuid(), nullable=False),
        sa.Column("stance", sa.String(length=32), nullable=False),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("office", sa.String(length=200), nullable=False),
        sa.Column("territory", sa.String(length=200), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("stance IN ('endorse', 'endorse_with_reservations')", name=op.f("ck_endorsements_stance")),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_endorsements_proposal_id_proposals"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["representative_id"],
            ["users.id"],
            name=op.f("fk_endorsements_representative_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endorsements")),
    )
    op.create_index(op.f("ix_endorsements_representative_id"), "endorsements", ["representative_id"])
    op.create_index(op.f("ix_endorsements_proposal_order"), "endorsements", ["proposal_id", "created_at", "id"])
    op.create_index(
        op.f("uq_endorsements_active_proposal_id_representative_id"),
        "endorsements",
        ["proposal_id", "representative_id"],
        unique=True,
        postgresql_where=sa.text("withdrawn_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("endorsements")
    op.drop_table("proposal_conclusions")
    op.drop_table("proposal_versions")
    op.drop_table("proposals")
