"""A session's events over HTTP, for members."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.forum.access import require_member
from deliberation.pagination import paginate
from deliberation.realtime.events import EventOut, EventPage, read_events


async def list_events(db: AsyncSession, session_id: uuid.UUID, user: User, *, after: int, limit: int) -> EventPage:
    """A page of events with `seq > after` in order, for members."""
    async with db.begin():
        await require_member(db, session_id, user)
    rows, next_cursor = paginate(await read_events(db, session_id, after, limit + 1), limit, lambda row: (row[0],))
    events = [EventOut(seq=seq, event=event, at=at, data=msgspec.json.decode(data)) for seq, event, at, data in rows]
    return EventPage(items=events, next_cursor=next_cursor)
