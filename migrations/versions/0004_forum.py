"""Forum: thematic lines, sublines, sessions, membership, threads.

Revision ID: 0004_forum
Revises: 0003_accounts
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0004_forum"
down_revision: str | None = "0003_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
