"""Housekeeping: an index on throttle_events.at, so every check can purge old events of all keys cheaply.

Revision ID: 0009_housekeeping
Revises: 0008_proposals
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_housekeeping"
down_revision: str | None = "0008_proposals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_throttle_events_at"), "throttle_events", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_throttle_events_at"), table_name="throttle_events")
