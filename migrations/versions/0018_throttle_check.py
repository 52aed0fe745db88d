"""`throttle_check(...)`: a throttle check (and the attempt it records) in one round trip instead of four.

The function takes the key's advisory lock, deletes the key's events out of the window (and everyone's older than
`keep`), counts the rest and, under the limit, records this attempt. In READ COMMITTED every statement of a
VOLATILE plpgsql function takes a fresh snapshot, so the count after the lock sees every attempt committed by the
holders before it, as the separate statements did.

Revision ID: 0018_throttle_check
Revises: 0017_web_client
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018_throttle_check"
down_revision: str | None = "0017_web_client"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION throttle_check(
            p_lock_class integer, p_scope text, p_key text, p_limit integer, p_window interval, p_now timestamptz,
            p_keep interval, p_record boolean, OUT retry_after integer, OUT event_id bigint
        ) LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            held bigint;
            oldest timestamptz;
        BEGIN
            PERFORM pg_advisory_xact_lock(p_lock_class, hashtext(p_scope || ':' || p_key));
            DELETE FROM throttle_events
             WHERE (scope = p_scope AND key = p_key AND at <= p_now - p_window) OR at < p_now - p_keep;
            SELECT count(*), min(at) INTO held, oldest FROM throttle_events WHERE scope = p_scope AND key = p_key;
            IF held >= p_limit THEN
                retry_after := greatest(1, ceil(extract(epoch FROM oldest + p_window - p_now)))::integer;
            ELSIF p_record THEN
                INSERT INTO throttle_events (scope, key, at) VALUES (p_scope, p_key, p_now) RETURNING id INTO event_id;
            END IF;
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION throttle_check(integer, text, text, integer, interval, timestamptz, interval, boolean)")
