"""The web client: a user's language, a session's time zone.

`users.language` (`en`, `es`, `fr`; null until the person chooses, English then) is the language of the
pages they see and of the mails they get. `sessions.time_zone` (an IANA name) is where the session's times
are shown on its event page.

Revision ID: 0017_web_client
Revises: 0016_mail_leases
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_web_client"
down_revision: str | None = "0016_mail_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("users", sa.Column("language", sa.String(length=8), nullable=True))
    op.create_check_constraint(op.f("ck_users_language"), "users", "language IN ('en', 'es', 'fr')")
    op.add_column("sessions", sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False))


def downgrade() -> None:
    op.drop_column("sessions", "time_zone")
    op.drop_constraint(op.f("ck_users_language"), "users", type_="check")
    op.drop_column("users", "language")
