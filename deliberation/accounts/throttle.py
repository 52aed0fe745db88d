"""Throttling kept in PostgreSQL, so every instance sees the same counts: events per key within a window.

The helpers run inside the caller's transaction. A check is one call of the `throttle_check` function (migration
0018): it takes a transaction-scoped advisory lock on the key, so a check and the attempt it records are atomic:
concurrent attempts queue and each one sees the others' events. Each check also deletes the events of every key
older than KEEP (cheap with the index on `at`), so the table holds at most a day of events; windows are at most
KEEP long (settings check it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import ThrottleEvent
from deliberation.db import locks
from deliberation.errors import TooManyRequests

KEEP = timedelta(days=1)  # the longest window any scope may use


async def _check(
    db: AsyncSession, scope: str, key: str, *, limit: int, window: timedelta, now: datetime, record: bool
) -> tuple[int | None, int | None]:
    """(seconds to wait, None) when `key` has `limit` events within the window; else (None, the recorded id)."""
    row = (
        await db.execute(
            text(
                "SELECT retry_after, event_id"
                " FROM throttle_check(:lock_class, :scope, :key, :limit, :window, :now, :keep, :record)"
            ),
            {
                "lock_class": locks.THROTTLE_CLASS,
                "scope": scope,
                "key": key,
                "limit": limit,
                "window": window,
                "now": now,
                "keep": KEEP,
                "record": record,
            },
        )
    ).one()
    return row.retry_after, row.event_id


async def retry_after(
    db: AsyncSession, scope: str, key: str, *, limit: int, window: timedelta, now: datetime
) -> int | None:
    """Seconds until `key` may try again when it has `limit` events within the window, else None."""
    wait, _ = await _check(db, scope, key, limit=limit, window=window, now=now, record=False)
    return wait


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
    refusal_values: dict[str, object] | None = None,
) -> int:
    """Check `key` (429 with `refusal`, filled with `refusal_values`, when it is over the limit), then record this
    attempt; return its id."""
    wait, event_id = await _check(db, scope, key, limit=limit, window=window, now=now, record=True)
    if wait is not None:
        raise TooManyRequests(refusal, retry_after=wait, values=refusal_values)
    assert event_id is not None
    return event_id


async def forget(db: AsyncSession, scope: str, key: str, event_id: int | None = None) -> None:
    """Drop one event of `key`, or all of them."""
    query = delete(ThrottleEvent).where(ThrottleEvent.scope == scope, ThrottleEvent.key == key)
    if event_id is not None:
        query = query.where(ThrottleEvent.id == event_id)
    await db.execute(query)
