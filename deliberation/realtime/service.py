"""Who may read a session's events, and the events themselves over HTTP."""

from __future__ import annotations

import uuid

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from deliberation.accounts.auth import user_for_token
from deliberation.accounts.models import User
from deliberation.errors import Unauthorized
from deliberation.forum.access import require_member
from deliberation.realtime.events import EventOut, read_events


async def admit_to_stream(db: AsyncSession, session_id: uuid.UUID, token: str | None) -> tuple[User, int]:
    """The user behind `token` and the session's last seq; 401 without valid auth, 403 non-member, 404."""
    user = await user_for_token(db, token)
    if user is None:
        raise Unauthorized("A valid access token is required.")
    async with db.begin():
        session = await require_member(db, session_id, user)
        return user, session.last_seq


async def list_events(
    db: AsyncSession, session_id: uuid.UUID, user: User, *, after: int, limit: int
) -> tuple[list[EventOut], bool]:
    """Events with `seq > after` in order, for members; and whether more follow."""
    async with db.begin():
        await require_member(db, session_id, user)
    rows = await read_events(db, session_id, after, limit + 1)
    events = [
        EventOut(seq=seq, event=event, at=at, data=msgspec.json.decode(data)) for seq, event, at, data in rows[:limit]
    ]
    return events, len(rows) > limit
