"""`mail_outbox.locked_until`: a sender's lease on the mails it claimed, so SMTP runs outside any transaction.

Revision ID: 0016_mail_leases
Revises: 0015_event_redaction
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_mail_leases"
down_revision: str | None = "0015_event_redaction"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("mail_outbox", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("mail_outbox", "locked_until")
