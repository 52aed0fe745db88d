"""`ix_session_events_subject`: a session's events about one subject (`data->>'id'`), for redaction.

Deleting or hiding a post gives every earlier event about it the post's current public view
(`deliberation.realtime.events.redact_events`); this index makes that one range of the session's events.
Events stored before this migration may still carry erased text: they are redacted by the next deletion or
hiding of their post only, so `upgrade` redacts the posts already deleted or hidden now.

Revision ID: 0015_event_redaction
Revises: 0014_guiding_questions
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_event_redaction"
down_revision: str | None = "0014_guiding_questions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_session_events_subject", "session_events", ["session_id", sa.text("(data->>'id')")])
    # Posts erased before now: their events take the data of their latest event (post.deleted / post.hidden
    # or later, all of which carry the view without the text).
    op.execute(
        """
        UPDATE session_events AS e SET data = latest.data
        FROM (
            SELECT DISTINCT ON (ev.session_id, ev.data->>'id') ev.session_id, ev.data->>'id' AS post_id, ev.data
            FROM session_events ev JOIN posts p ON p.id::text = ev.data->>'id'
            WHERE ev.type IN ('post.created', 'post.updated', 'post.deleted', 'post.hidden', 'post.unhidden', 'reactions.updated') AND (p.deleted_at IS NOT NULL OR p.hidden_reason IS NOT NULL)
            ORDER BY ev.session_id, ev.data->>'id', ev.seq DESC
        ) AS latest
        WHERE e.session_id = latest.session_id AND e.type IN ('post.created', 'post.updated', 'post.deleted', 'post.hidden', 'post.unhidden', 'reactions.updated') AND e.data->>'id' = latest.post_id
        """
    )


def downgrade() -> None:
    op.drop_index("ix_session_events_subject", table_name="session_events")
