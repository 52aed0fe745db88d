"""Live tickets: single-use, short-lived credentials for `?ticket=` on the live stream.

A ticket is stored as the SHA-256 of its value and names the access token it was issued under (the stream it
opens ends with that token: logout, revocation, expiry). Redeeming deletes the row.

Revision ID: 0011_live_tickets
Revises: 0010_revision_visibility
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011_live_tickets"
down_revision: str | None = "0010_revision_visibility"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_tickets",
        sa.Column("ticket_hash", sa.String(length=64), nullable=False),
        sa.Column("session_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", postgresql.UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_live_tickets_session_id_sessions"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_live_tickets_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["token_hash"],
            ["access_tokens.token_hash"],
            name=op.f("fk_live_tickets_token_hash_access_tokens"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_hash", name=op.f("pk_live_tickets")),
    )
    op.create_index(op.f("ix_live_tickets_user_id"), "live_tickets", ["user_id"])
    op.create_index(op.f("ix_live_tickets_token_hash"), "live_tickets", ["token_hash"])


def downgrade() -> None:
    op.drop_index(op.f("ix_live_tickets_token_hash"), table_name="live_tickets")
    op.drop_index(op.f("ix_live_tickets_user_id"), table_name="live_tickets")
    op.drop_table("live_tickets")
