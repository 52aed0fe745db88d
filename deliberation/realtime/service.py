"""A session's events and presence over HTTP, for members."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.models import User
from deliberation.db.engine import read_snapshot
from deliberation.errors import Busy
from deliberation.forum.access import require_member
from deliberation.pagination import Seq, decode_cursor, paginate
from deliberation.realtime.events import EventOut, EventPage, as_of_seq, select_events
from deliberation.realtime.hub import Hub
from deliberation.realtime.schemas import PresenceOut


async def list_events(
    db: AsyncSession, session_id: uuid.UUID, user: User, *, after: int, cursor: str | None, limit: int
) -> EventPage:
    """A page of events with `seq > after` (or after the cursor) in order, for members.

    Read with `select_events`, the query the live stream replays with (not `keyset_page`): one SQL for both.
    """
    if cursor is not None:
        (after,) = decode_cursor(cursor, tuple[Seq])
    async with db.begin():
        await read_snapshot(db)
        await require_member(db, session_id, user)
        rows = await select_events(db, session_id, after, limit + 1)
        as_of = await as_of_seq(db, session_id)
    rows, next_cursor = paginate(rows, limit, lambda row: (row[0],))
    events = [EventOut(seq=seq, event=event, at=at, data=msgspec.json.decode(data)) for seq, event, at, data in rows]
    return EventPage(items=events, next_cursor=next_cursor, as_of_seq=as_of)


async def get_presence(db: AsyncSession, session_id: uuid.UUID, user: User, hub: Hub | None) -> PresenceOut:
    """Who is online in the session (members and admins), as this instance's hub knows it from every instance.

    503 on an instance without live fan-out (`DELIBERATION_LIVE_FANOUT=false`): it does not follow presence.
    """
    async with db.begin():
        await require_member(db, session_id, user)
    if hub is None:
        raise Busy("This instance does not follow presence (live fan-out is off); try another.", retry_after=5)
    users = hub.presence.online(session_id)
    return PresenceOut(online=len(users), users=users)
