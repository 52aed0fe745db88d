"""Final proposals, versions and endorsements.

Revision ID: 0008_proposals
Revises: 0007_conclusions
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0008_proposals"
down_revision: str | None = "0007_conclusions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
