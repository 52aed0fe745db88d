"""Guiding questions kept on the session: `sessions.guiding_questions`, `[{position, question, thread_id}]`.

Before, they only survived as the titles of the threads made for them. Existing sessions get theirs back from
those threads: the ones made with the session (no `created_by`), in their order.

Revision ID: 0014_guiding_questions
Revises: 0013_known_networks
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014_guiding_questions"
down_revision: str | None = "0013_known_networks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "sessions",
        sa.Column("guiding_questions", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
    )
    op.execute(
        """
        UPDATE sessions SET guiding_questions = questions.list
        FROM (
            SELECT session_id, jsonb_agg(
                jsonb_build_object('position', n, 'question', title, 'thread_id', id::text) ORDER BY n
            ) AS list
            FROM (
                SELECT session_id, id, title,
                       row_number() OVER (PARTITION BY session_id ORDER BY position, created_at, id) AS n
                FROM threads WHERE created_by IS NULL
            ) AS numbered
            GROUP BY session_id
        ) AS questions
        WHERE sessions.id = questions.session_id
        """
    )


def downgrade() -> None:
    op.drop_column("sessions", "guiding_questions")
