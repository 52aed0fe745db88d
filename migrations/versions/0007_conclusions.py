"""Draft conclusions: versions, voting windows, votes.

Revision ID: 0007_conclusions
Revises: 0006_threads
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0007_conclusions"
down_revision: str | None = "0006_threads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
