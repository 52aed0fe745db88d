"""The locks every domain shares: the session row, and every advisory lock key (in one place so no two collide).

The order in which an action takes its locks is written once, in docs/architecture.md ("Lock order").

Single-key locks (`pg_advisory_xact_lock(key)`) and two-key locks (`pg_advisory_xact_lock(class, key)`) live
in separate key spaces in PostgreSQL; the numbers below are still all distinct.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

MIGRATIONS = 7_424_911  # concurrent starts on one embedded database migrate one after another
AUDIT_CHAIN = 7_424_912  # the transparency log is appended one entry at a time
DEMO = 7_424_913  # `deliberation demo` run twice at once still loads one copy
THROTTLE_CLASS = 7_424_914  # two-key: (class, hashtext(scope:key)) serialises counting per throttle key


async def lock_session_row(db: AsyncSession, session_id: uuid.UUID) -> bool:
    """Take the session's row until the transaction ends; False when there is no such session.

    The one way an action takes a session (`forum.access.lock_session` wraps it with the permission checks;
    `audit.record` takes it for entries about a session). FOR NO KEY UPDATE is the mode `emit`'s
    `UPDATE sessions SET last_seq = ...` takes as well, so an action that locked first waits for nothing more
    when it emits, and rows that only reference the session (KEY SHARE) are not blocked.
    """
    locked = await db.scalar(text("SELECT true FROM sessions WHERE id = :id FOR NO KEY UPDATE"), {"id": session_id})
    return locked is not None
