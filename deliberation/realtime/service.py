"""Who may read a session's events, and the events themselves over HTTP."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.auth import user_for_token
from deliberation.accounts.models import User
from deliberation.errors import Unauthorized
from deliberation.forum.access import require_member
from deliberation.pagination import paginate
from deliberation.realtime.events import EventOut, EventPage, read_events


async def admit_to_stream(
    db: AsyncSession, session_id: uuid.UUID, token: str | None, *, now: datetime
) -> tuple[User, int]:
    """The user behind `token` (live at `now`) and the session's last seq; 401 without valid auth, 403, 404."""
    user = await user_for_token(db, token, now=now)
    if user is None:
        raise Unauthorized("A valid access token is required.")
    async with db.begin():
        session = await require_member(db, session_id, user)
        return user, session.last_seq


async def list_events(db: AsyncSession, session_id: uuid.UUID, user: User, *, after: int, limit: int) -> EventPage:
    """A page of events with `seq > after` in order, for members."""
    async with db.begin():
        await require_member(db, session_id, user)
    rows, next_cursor = paginate(await read_events(db, session_id, after, limit + 1), limit, lambda row: (row[0],))
    events = [EventOut(seq=seq, event=event, at=at, data=msgspec.json.decode(data)) for seq, event, at, data in rows]
    return EventPage(items=events, next_cursor=next_cursor)
