"""Throttling kept in PostgreSQL, so every instance sees the same counts: events per key within a window.

The helpers run inside the caller's transaction. `retry_after` takes a transaction-scoped advisory lock on
the key, so a check and the `record_attempt` that follows it are atomic: concurrent attempts queue and each
one sees the others' events. Each check also deletes the events of every key older than KEEP (cheap with the
index on `at`), so the table holds at most a day of events; windows are at most KEEP long (settings check it).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import ThrottleEvent
from deliberation.db import locks
from deliberation.errors import TooManyRequests

KEEP = timedelta(days=1)  # the longest window any scope may use


async def retry_after(
    db: AsyncSession, scope: str, key: str, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Seconds until `key` may try again when it has `limit` events within the window, else None."""
    await db.execute(select(func.pg_advisory_xact_lock(locks.THROTTLE_CLASS, func.hashtext(f"{scope}:{key}"))))
    since = now - window
    await db.execute(
        delete(ThrottleEvent).where(
            or_(
                and_(ThrottleEvent.scope == scope, ThrottleEvent.key == key, ThrottleEvent.at <= since),
                ThrottleEvent.at < now - KEEP,
            )
        )
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


async def record_attempt(db: AsyncSession, scope: str, key: str, now: datetime) -> int:
    """Record one event for `key`; return its id (to forget it later)."""
    event = ThrottleEvent(scope=scope, key=key, at=now)
    db.add(event)
    await db.flush()
    return event.id


async def admit(
    db: AsyncSession,
    scope: str,
    key: str,
    *,
    limit: int,
    window: timedelta,
    now: datetime,
    refusal: str,
) -> int:
    """Check `key` (429 with `refusal` when it is over the limit), then record this attempt; return its id."""
    wait = await retry_after(db, scope, key, limit=limit, window=window, now=now)
    if wait is not None:
        raise TooManyRequests(refusal, retry_after=wait)
    return await record_attempt(db, scope, key, now)


async def forget(db: AsyncSession, scope: str, key: str, event_id: int | None = None) -> None:
    """Drop one event of `key`, or all of them."""
    query = delete(ThrottleEvent).where(ThrottleEvent.scope == scope, ThrottleEvent.key == key)
    if event_id is not None:
        query = query.where(ThrottleEvent.id == event_id)
    await db.execute(query)
