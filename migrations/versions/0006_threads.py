"""Threads and posts: reply trees, revisions, reactions, flags, moderation.

Revision ID: 0006_threads
Revises: 0005_session_events
Create Date: 2026-11-28
"""

from collections.abc import Sequence

revision: str = "0006_threads"
down_revision: str | None = "0005_session_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
