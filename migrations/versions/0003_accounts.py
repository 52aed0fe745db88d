"""Accounts: password resets, mail outbox, login throttling, representatives.

Revision ID: 0003_accounts
Revises: 0002_users_tokens
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0003_accounts"
down_revision: str | None = "0002_users_tokens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
