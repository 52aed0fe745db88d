"""`known_networks`: the client networks each account signed in from (the login throttle spares them).

Revision ID: 0013_known_networks
Revises: 0012_email_normalization
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_known_networks"
down_revision: str | None = "0012_email_normalization"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_networks",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("network", sa.String(length=64), nullable=False),
        sa.Column("signed_in_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_known_networks_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "network", name=op.f("pk_known_networks")),
    )


def downgrade() -> None:
    op.drop_table("known_networks")
