"""Throttling kept in PostgreSQL, so every instance sees the same counts: events per key within a window.

Both helpers run inside the caller's transaction. `retry_after` takes a transaction-scoped advisory lock on
the key, so a check and the `count` that follows it are atomic: concurrent attempts queue and each one sees
the others' events.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import ThrottleEvent
from deliberation.db import locks


async def retry_after(
    db: AsyncSession, scope: str, key: str, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Seconds until `key` may try again when it has `limit` events within the window, else None."""
    await db.execute(select(func.pg_advisory_xact_lock(locks.THROTTLE_CLASS, func.hashtext(f"{scope}:{key}"))))
    since = now - window
    await db.execute(
        delete(ThrottleEvent).where(ThrottleEvent.scope == scope, ThrottleEvent.key == key, ThrottleEvent.at <= since)
    )
    count, oldest = (
        await db.execute(
            select(func.count(), func.min(ThrottleEvent.at)).where(
                ThrottleEvent.scope == scope, ThrottleEvent.key == key
            )
        )
    ).one()
    if count < limit:
        return None
    return max(1, math.ceil((oldest + window - now).total_seconds()))


async def count(db: AsyncSession, scope: str, key: str, now: datetime) -> int:
    """Record one event for `key`; return its id (to forget it later)."""
    event = ThrottleEvent(scope=scope, key=key, at=now)
    db.add(event)
    await db.flush()
    return event.id


async def forget(db: AsyncSession, scope: str, key: str, event_id: int | None = None) -> None:
    """Drop one event of `key`, or all of them."""
    query = delete(ThrottleEvent).where(ThrottleEvent.scope == scope, ThrottleEvent.key == key)
    if event_id is not None:
        query = query.where(ThrottleEvent.id == event_id)
    await db.execute(query)
