"""Stored email addresses in the normal form sign-up now gives them (`valid_email`: NFKC, lower case, IDNA).

Lookalike addresses used to make separate accounts. Each row is normalised unless that would give it the
address of another row (a collision) or its address is no longer accepted: those rows are left as they are
and reported (a warning naming the users), for an operator to merge or rename; the migration does not fail.

Revision ID: 0012_email_normalization
Revises: 0011_live_tickets
Create Date: 2026-12-01
"""

import logging
from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from deliberation.accounts.service import valid_email
from deliberation.errors import Invalid

revision: str = "0012_email_normalization"
down_revision: str | None = "0011_live_tickets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("deliberation.migrations")


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, email FROM users ORDER BY created_at, id")).all()
    by_address: dict[str, list] = defaultdict(list)
    for user_id, email in rows:
        try:
            by_address[valid_email(email)].append((user_id, email))
        except Invalid as exc:
            log.warning("user %s: address %r is not accepted any more (%s); left as it is", user_id, email, exc.detail)
    for address, users in by_address.items():
        if len(users) > 1:
            log.warning(
                "users %s share the address %r once normalised; left as they are, merge or rename them",
                ", ".join(f"{user_id} ({email!r})" for user_id, email in users),
                address,
            )
            continue
        ((user_id, email),) = users
        if email != address:
            connection.execute(
                sa.text("UPDATE users SET email = :email WHERE id = :id"), {"email": address, "id": user_id}
            )


def downgrade() -> None:
    """Nothing to undo: the old form of an address is not kept, and the normal form is a valid old one."""
