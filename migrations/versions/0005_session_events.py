"""Live stream: the session event log.

Revision ID: 0005_session_events
Revises: 0004_forum
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0005_session_events"
down_revision: str | None = "0004_forum"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
